//! The file dialogs seam: the native dialogs for the app, fixed answers for tests.
//!
//! A native dialog answers "nothing chosen" both when the user cancelled and when no dialog
//! could be shown at all (on Linux: no xdg desktop portal and no `zenity`). [`DialogChoice`]
//! keeps the two apart, so the app offers its own save prompt instead of claiming the user
//! cancelled.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a file dialog came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogChoice {
    /// The user picked this path.
    Chosen(PathBuf),
    /// The user closed the dialog without picking anything.
    Cancelled,
    /// No dialog could be shown; the text says why (for example "no D-Bus session bus, and
    /// zenity is not installed").
    Unavailable(String),
}

/// The app's file dialogs. The app uses the native ones; tests supply fixed answers.
pub trait FileDialogs: Send {
    /// A path to save to (an export, a file carved out of the image), offering the file name
    /// `suggested`.
    fn pick_save_path(&mut self, suggested: &str) -> DialogChoice;

    /// An image archive to open (`docker save`, `oci-archive`).
    fn pick_image_file(&mut self) -> DialogChoice;

    /// An image layout directory to open.
    fn pick_image_folder(&mut self) -> DialogChoice;
}

/// The platform's native dialogs (xdg portal, else zenity, on Linux).
#[derive(Debug, Default)]
pub struct NativeFileDialogs;

impl FileDialogs for NativeFileDialogs {
    fn pick_save_path(&mut self, suggested: &str) -> DialogChoice {
        let dialog = rfd::FileDialog::new().set_file_name(suggested);
        // Only an export is a CSV file; a carved file keeps whatever name it has.
        let dialog = if suggested.ends_with(".csv") {
            dialog.add_filter("CSV", &["csv"])
        } else {
            dialog
        };
        timed(|| dialog.save_file())
    }

    fn pick_image_file(&mut self) -> DialogChoice {
        timed(|| {
            rfd::FileDialog::new()
                .set_title("Open an image archive (docker save, oci-archive)")
                .add_filter("Image archives", &["tar", "gz", "tgz", "zst"])
                .add_filter("All files", &["*"])
                .pick_file()
        })
    }

    fn pick_image_folder(&mut self) -> DialogChoice {
        timed(|| {
            rfd::FileDialog::new()
                .set_title("Open an OCI image layout folder")
                .pick_folder()
        })
    }
}

/// A native dialog that comes back empty-handed sooner than this was never on screen: a
/// portal or zenity dialog takes a good part of this to appear, and a person longer still to
/// read and cancel it, while rfd's portal call and its zenity fallback fail within
/// milliseconds when neither is there (tens of milliseconds on a loaded machine).
const NO_DIALOG_WITHIN: Duration = Duration::from_millis(500);

/// Runs a native dialog and tells a cancel from a dialog that could not be shown.
fn timed(dialog: impl FnOnce() -> Option<PathBuf>) -> DialogChoice {
    let started = Instant::now();
    let picked = dialog();
    classify(picked, started.elapsed(), DialogEnvironment::probe)
}

/// What a native dialog's answer means. A path is chosen. Nothing, on the platforms whose
/// dialogs can be missing (Linux and the BSDs: rfd's xdg portal, else zenity), means no
/// dialog was shown when the environment leaves rfd no way to show one, or when the answer
/// came sooner than [`NO_DIALOG_WITHIN`]; otherwise it is the user's cancel.
fn classify(
    picked: Option<PathBuf>,
    took: Duration,
    environment: impl FnOnce() -> DialogEnvironment,
) -> DialogChoice {
    let Some(path) = picked else {
        if !DIALOGS_CAN_BE_MISSING {
            return DialogChoice::Cancelled;
        }
        let environment = environment();
        return if environment.no_dialog_possible() || took < NO_DIALOG_WITHIN {
            DialogChoice::Unavailable(environment.why())
        } else {
            DialogChoice::Cancelled
        };
    };
    DialogChoice::Chosen(path)
}

/// Whether this platform's native dialogs depend on services that may be absent (rfd's xdg
/// portal over D-Bus, and `zenity`); Windows and macOS always have their dialogs.
const DIALOGS_CAN_BE_MISSING: bool = cfg!(any(
    target_os = "linux",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
));

/// What rfd's Linux dialogs need, as far as the environment tells without asking D-Bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DialogEnvironment {
    /// A D-Bus session bus can be reached: `DBUS_SESSION_BUS_ADDRESS`, the
    /// `$XDG_RUNTIME_DIR/bus` socket, or `dbus-launch` to start one for the X display.
    session_bus: bool,
    /// An xdg desktop portal can be started: its D-Bus service file is installed (or the app
    /// runs in a Flatpak or Snap sandbox, whose host provides it).
    portal_installed: bool,
    /// `zenity`, rfd's fallback, is on `PATH`.
    zenity: bool,
}

impl DialogEnvironment {
    /// Looks at the environment variables and files that decide it.
    fn probe() -> Self {
        let env = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
        let runtime_bus =
            env("XDG_RUNTIME_DIR").is_some_and(|dir| PathBuf::from(dir).join("bus").exists());
        let autolaunch = env("DISPLAY").is_some()
            && (on_path("dbus-launch") || Path::new("/usr/bin/dbus-launch").is_file());
        let session_bus = env("DBUS_SESSION_BUS_ADDRESS").is_some() || runtime_bus || autolaunch;

        let data_home = env("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|home| home.join(".local/share")));
        let data_dirs =
            env("XDG_DATA_DIRS").unwrap_or_else(|| "/usr/local/share:/usr/share".into());
        let sandboxed = Path::new("/.flatpak-info").exists() || env("SNAP").is_some();
        let portal_installed = sandboxed
            || data_home
                .into_iter()
                .chain(std::env::split_paths(&data_dirs))
                .any(|dir| {
                    dir.join("dbus-1/services/org.freedesktop.portal.Desktop.service")
                        .is_file()
                });
        Self {
            session_bus,
            portal_installed,
            zenity: on_path("zenity"),
        }
    }

    /// Neither the portal nor zenity can show a dialog here.
    fn no_dialog_possible(self) -> bool {
        let portal_possible = self.session_bus && self.portal_installed;
        !(self.zenity || portal_possible)
    }

    /// Why rfd's dialogs did not show: the portal's part and zenity's.
    fn why(self) -> String {
        let portal = if !self.session_bus {
            "no D-Bus session bus for an xdg desktop portal"
        } else if !self.portal_installed {
            "no xdg desktop portal is installed"
        } else {
            "the xdg desktop portal did not answer"
        };
        let zenity = if self.zenity {
            "zenity did not open"
        } else {
            "zenity is not installed"
        };
        format!("{portal}, and {zenity}")
    }
}

/// Whether an executable file named `program` is in a directory of `PATH`.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Saves to the same path without asking and opens nothing (for tests and automation).
#[derive(Debug, Clone)]
pub struct FixedSavePath(pub PathBuf);

impl FileDialogs for FixedSavePath {
    fn pick_save_path(&mut self, _suggested: &str) -> DialogChoice {
        DialogChoice::Chosen(self.0.clone())
    }

    fn pick_image_file(&mut self) -> DialogChoice {
        DialogChoice::Cancelled
    }

    fn pick_image_folder(&mut self) -> DialogChoice {
        DialogChoice::Cancelled
    }
}

/// Answers every dialog (save and open) the same way: for tests of a cancel, or of a desktop
/// without file dialogs (`FixedChoice(DialogChoice::Unavailable("no xdg portal".into()))`).
#[derive(Debug, Clone)]
pub struct FixedChoice(pub DialogChoice);

impl FileDialogs for FixedChoice {
    fn pick_save_path(&mut self, _suggested: &str) -> DialogChoice {
        self.0.clone()
    }

    fn pick_image_file(&mut self) -> DialogChoice {
        self.0.clone()
    }

    fn pick_image_folder(&mut self) -> DialogChoice {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A desktop where the portal could work and zenity is installed.
    const FULL: DialogEnvironment = DialogEnvironment {
        session_bus: true,
        portal_installed: true,
        zenity: true,
    };
    /// No session bus, no zenity (a bare X session, Xvfb).
    const BARE: DialogEnvironment = DialogEnvironment {
        session_bus: false,
        portal_installed: false,
        zenity: false,
    };

    #[test]
    fn a_path_is_chosen_however_fast() {
        let path = PathBuf::from("/tmp/x.csv");
        assert_eq!(
            classify(Some(path.clone()), Duration::ZERO, || BARE),
            DialogChoice::Chosen(path)
        );
    }

    #[test]
    fn nothing_after_a_while_on_a_full_desktop_is_a_cancel() {
        assert_eq!(
            classify(None, Duration::from_secs(2), || FULL),
            DialogChoice::Cancelled
        );
    }

    #[test]
    fn nothing_where_no_dialog_can_show_is_no_dialog_however_slow() {
        let choice = classify(None, Duration::from_secs(2), || BARE);
        if DIALOGS_CAN_BE_MISSING {
            assert_eq!(
                choice,
                DialogChoice::Unavailable(
                    "no D-Bus session bus for an xdg desktop portal, and zenity is not installed"
                        .into()
                )
            );
        } else {
            assert_eq!(choice, DialogChoice::Cancelled);
        }
    }

    #[test]
    fn nothing_at_once_is_no_dialog_even_on_a_full_desktop() {
        let choice = classify(None, Duration::from_millis(5), || FULL);
        if DIALOGS_CAN_BE_MISSING {
            assert_eq!(
                choice,
                DialogChoice::Unavailable(
                    "the xdg desktop portal did not answer, and zenity did not open".into()
                )
            );
        } else {
            assert_eq!(choice, DialogChoice::Cancelled);
        }
    }

    #[test]
    fn either_the_portal_or_zenity_makes_a_dialog_possible() {
        assert!(BARE.no_dialog_possible());
        assert!(!FULL.no_dialog_possible());
        let portal_only = DialogEnvironment {
            zenity: false,
            ..FULL
        };
        assert!(!portal_only.no_dialog_possible());
        let zenity_only = DialogEnvironment {
            zenity: true,
            ..BARE
        };
        assert!(!zenity_only.no_dialog_possible());
        let bus_without_portal = DialogEnvironment {
            session_bus: true,
            ..BARE
        };
        assert!(bus_without_portal.no_dialog_possible());
        assert_eq!(
            bus_without_portal.why(),
            "no xdg desktop portal is installed, and zenity is not installed"
        );
    }
}
