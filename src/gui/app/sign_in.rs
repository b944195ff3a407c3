//! Registry logins in the app: the sign-in form a registry's refusal opens (user, password or
//! token, "Remember"), and the Registries window that lists the logins and signs out of each.
//!
//! A login lives in the app's memory for the session; with "Remember" it is also stored in the
//! OS keyring (as the CLI's `--remember` does), and only its registry's name is saved with the
//! app's settings, so that the Registries window can list it. The password is masked on
//! screen, never logged, and never written anywhere else.

use egui::{Key, RichText};

use super::actions::Action;
use crate::gui::jobs::FetchRequest;
use crate::output::escape_control;
use crate::source::registry::Credential;

/// The open sign-in form.
pub(super) struct SignIn {
    /// The registry asking for a login, as written in references (e.g. `ghcr.io`).
    pub registry: String,
    /// The request to retry with the login.
    pub request: FetchRequest,
    /// What the request was for.
    pub retry: Retry,
    /// The user name as typed.
    pub username: String,
    /// The password or token as typed (masked on screen).
    pub password: String,
    /// Store the login in the OS keyring once it worked.
    pub remember: bool,
    /// Why the last attempt did not work.
    pub error: Option<String>,
    /// Give this field the keyboard focus on the next frame.
    focus: Option<Field>,
    /// A sign-in is being tried.
    pub trying: bool,
}

/// What a sign-in retries once the login is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    /// Opening the image.
    Open,
    /// Comparing the image on screen with this one (the Compare tab's image B).
    Compare,
}

/// The form's text fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    User,
    Password,
}

impl SignIn {
    /// The form for `registry`, which refused `request` (made to `retry`); the user field
    /// takes the keys.
    pub fn new(registry: String, request: FetchRequest, retry: Retry) -> Self {
        Self {
            registry,
            request,
            retry,
            username: String::new(),
            password: String::new(),
            remember: false,
            error: None,
            focus: Some(Field::User),
            trying: false,
        }
    }

    /// The login as typed, and the request to retry with it.
    pub fn attempt(&mut self) -> Option<(FetchRequest, Credential)> {
        let username = self.username.trim();
        if username.is_empty() {
            self.error = Some("Type your user name.".into());
            self.focus = Some(Field::User);
            return None;
        }
        if self.password.is_empty() {
            self.error = Some("Type your password or access token.".into());
            self.focus = Some(Field::Password);
            return None;
        }
        let credential = Credential::Basic {
            username: username.to_owned(),
            password: self.password.clone(),
        };
        self.error = None;
        self.trying = true;
        Some((
            FetchRequest {
                credential: Some(credential.clone()),
                ..self.request.clone()
            },
            credential,
        ))
    }

    /// The registry refused the login: say so, keep the user, ask for the password again.
    pub fn refused(&mut self) {
        self.trying = false;
        self.password.clear();
        self.error = Some(format!(
            "{} refused this user name and password (or token). Check them and try again.",
            escape_control(&self.registry)
        ));
        self.focus = Some(Field::Password);
    }

    /// The attempt failed for another reason (`message`): the form stays, saying why.
    pub fn failed(&mut self, message: &str) {
        self.trying = false;
        self.error = Some(escape_control(message).into_owned());
    }
}

/// The sign-in form as a modal window: Sign in (Enter) or Cancel (Escape).
pub(super) fn sign_in_ui(ctx: &egui::Context, form: &mut SignIn) -> Option<Action> {
    let mut action = None;
    egui::Modal::new(egui::Id::unique("sign_in")).show(ctx, |ui| {
        ui.set_max_width(480.0);
        ui.heading(format!("Sign in to {}", escape_control(&form.registry)));
        ui.label(format!(
            "{} needs a login to open {}.",
            escape_control(&form.registry),
            escape_control(&form.request.reference)
        ));
        ui.add_space(4.0);
        let mut entered = false;
        egui::Grid::new("sign_in_fields")
            .num_columns(2)
            .show(ui, |ui| {
                let label = ui.label("User");
                let user = ui
                    .add(egui::TextEdit::singleline(&mut form.username).desired_width(300.0))
                    .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Password or token");
                let password = ui
                    .add(
                        egui::TextEdit::singleline(&mut form.password)
                            .password(true)
                            .desired_width(300.0),
                    )
                    .labelled_by(label.id);
                ui.end_row();
                match form.focus.take() {
                    Some(Field::User) => user.request_focus(),
                    Some(Field::Password) => password.request_focus(),
                    None => {}
                }
                let enter = ui.input(|i| i.key_pressed(Key::Enter));
                if enter && user.lost_focus() {
                    // Enter on the user field goes on to the password, unless it is typed.
                    if form.password.is_empty() {
                        form.focus = Some(Field::Password);
                    } else {
                        entered = true;
                    }
                }
                entered |= enter && password.lost_focus();
                if user.changed() || password.changed() {
                    form.error = None;
                }
            });
        ui.checkbox(&mut form.remember, "Remember in the OS keyring")
            .on_hover_text(
                "Keep this login in the operating system's keyring, as --remember does, so \
                 that later sessions (and the command line) sign in by themselves. \
                 Registries… signs out.",
            );
        if let Some(error) = &form.error {
            let color = ui.visuals().error_fg_color;
            ui.colored_label(color, error);
        }
        if form.trying {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Signing in…");
            });
        }
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let clicked = ui
                .add_enabled(!form.trying, egui::Button::new("Sign in"))
                .on_hover_text("Open the image with this login (Enter)")
                .clicked();
            if (clicked || entered) && !form.trying {
                action = Some(Action::SignIn);
            }
            if ui
                .button("Cancel sign-in")
                .on_hover_text("Close this form without signing in (Escape)")
                .clicked()
                || ui.input(|i| i.key_pressed(Key::Escape))
            {
                action = Some(Action::CancelSignIn);
            }
        });
    });
    action
}

/// A login the Registries window lists.
pub(super) struct LoginRow {
    /// The registry, as written in references.
    pub registry: String,
    /// Signed in during this session.
    pub in_session: bool,
    /// Stored in the OS keyring ("Remember").
    pub remembered: bool,
}

/// The Registries window while `open`: each login, and "Sign out of …" for each.
pub(super) fn registries_ui(
    ctx: &egui::Context,
    open: &mut bool,
    rows: &[LoginRow],
) -> Option<Action> {
    let mut action = None;
    egui::Window::new("Registries")
        .open(open)
        .resizable(false)
        .collapsible(false)
        .show(ctx, |ui| {
            if rows.is_empty() {
                ui.label(
                    "No logins. When a registry asks for one, the app shows a sign-in form; \
                     tick \"Remember\" there to keep the login in the OS keyring.",
                );
                return;
            }
            egui::Grid::new("registries")
                .num_columns(3)
                .striped(true)
                .show(ui, |ui| {
                    for row in rows {
                        ui.label(escape_control(&row.registry));
                        let how = match (row.in_session, row.remembered) {
                            (true, true) => "signed in; remembered in the OS keyring",
                            (true, false) => "signed in for this session",
                            (false, _) => "remembered in the OS keyring",
                        };
                        ui.label(RichText::new(how).weak());
                        if ui
                            .button(format!("Sign out of {}", escape_control(&row.registry)))
                            .on_hover_text(
                                "Forget this login, in this session and in the OS keyring",
                            )
                            .clicked()
                        {
                            action = Some(Action::SignOut(row.registry.clone()));
                        }
                        ui.end_row();
                    }
                });
        });
    action
}
