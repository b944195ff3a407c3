//! Signing in from the app against a real registry with htpasswd auth: the form a refusal
//! opens, a wrong password, the image opening by itself once signed in, the password never
//! shown, and signing out in the Registries window.

use crate::common;
use crate::frames;
use crate::frames::{click, step_until};

use common::{RegistryAuth, SampleImage, TestRegistry, push_sample_image};
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use layerslayer::gui::{FixedSavePath, LayerslayerApp};

const USER: &str = "alice";
const PASSWORD: &str = "s3cret-Pa55word";

fn app_harness() -> Harness<'static, LayerslayerApp> {
    let picker = FixedSavePath(std::env::temp_dir().join("unused.csv"));
    Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |_cc| LayerslayerApp::new_for_tests(None, Box::new(picker)))
}

/// Every node of the window whose label, value or description holds `text`.
fn nodes_showing(harness: &Harness<'_, LayerslayerApp>, text: &'static str) -> Vec<String> {
    harness
        .query_all_by(move |node| {
            [node.label(), node.value(), node.description()]
                .into_iter()
                .flatten()
                .any(|shown| shown.contains(text))
        })
        .map(|node| format!("{:?}", node.accesskit_node().role()))
        .collect()
}

/// Types `text` into the focused widget, as keystrokes would.
fn type_into_focus(harness: &mut Harness<'_, LayerslayerApp>, text: &str) {
    harness.event(egui::Event::Text(text.to_owned()));
    harness.step();
}

fn open(harness: &mut Harness<'_, LayerslayerApp>, reference: &str) {
    frames::replace_text(harness, "Image reference", reference);
    harness.key_press(egui::Key::Enter);
    harness.step();
    step_until(harness, "the registry's answer", |app| !app.is_busy());
}

/// Starts a registry that wants a login, pushes the sample image to `repository:v1` and has a
/// new app open it, which opens the sign-in form. Returns the registry (it serves while
/// kept), the image, the app and the host the form names.
fn open_behind_login(
    repository: &str,
) -> (
    TestRegistry,
    SampleImage,
    Harness<'static, LayerslayerApp>,
    String,
) {
    let registry = TestRegistry::start_with(RegistryAuth::Htpasswd {
        username: USER.into(),
        password: PASSWORD.into(),
    });
    let image = push_sample_image(&registry, repository, "v1");
    let mut harness = app_harness();
    harness.step();
    open(&mut harness, &image.reference);
    let host = harness
        .state()
        .sign_in_registry()
        .expect("the sign-in form is open")
        .to_owned();
    (registry, image, harness, host)
}

#[test]
fn a_refused_image_asks_for_a_login_and_opens_once_signed_in() {
    let (registry, image, mut harness, host) = open_behind_login("private/app");
    assert!(image.reference.starts_with(&host), "{host}");
    assert!(harness.state().image().is_none());
    assert_eq!(
        harness.state().last_error(),
        None,
        "the form says it instead"
    );
    assert!(
        harness.state().status_message().contains("needs a login"),
        "{}",
        harness.state().status_message()
    );
    // The user field has the keys; Tab goes on to the masked password field.
    harness.step();
    assert!(
        harness
            .get_by_role_and_label(Role::TextInput, "User")
            .is_focused()
    );
    type_into_focus(&mut harness, USER);
    harness.key_press(egui::Key::Tab);
    harness.step();
    let password_field = harness.get_by_role_and_label(Role::PasswordInput, "Password or token");
    assert!(password_field.is_focused());

    // A wrong password: said, and the form stays open for another try.
    type_into_focus(&mut harness, "wrong-password");
    harness.key_press(egui::Key::Enter);
    harness.step();
    step_until(&mut harness, "the refusal", |app| !app.is_signing_in());
    assert_eq!(harness.state().sign_in_registry(), Some(host.as_str()));
    let refusal = harness
        .state()
        .sign_in_error()
        .expect("the refusal is said")
        .to_owned();
    assert!(refusal.contains("refused"), "{refusal}");
    assert!(
        harness
            .query_by_label_contains("refused this user")
            .is_some()
    );
    assert!(harness.state().image().is_none());
    assert!(nodes_showing(&harness, "wrong-password").is_empty());

    // The right one, typed into the password field (which has the keys again): the image
    // opens with no further click.
    assert!(
        harness
            .get_by_role_and_label(Role::PasswordInput, "Password or token")
            .is_focused()
    );
    type_into_focus(&mut harness, PASSWORD);
    assert!(
        nodes_showing(&harness, PASSWORD).is_empty(),
        "the typed password shows in {:?}",
        nodes_showing(&harness, PASSWORD)
    );
    harness.key_press(egui::Key::Enter);
    harness.step();
    step_until(&mut harness, "the image to open", |app| {
        !app.is_busy() && app.image().is_some()
    });
    assert_eq!(harness.state().sign_in_registry(), None, "the form closed");
    assert_eq!(harness.state().layer_count(), 3);
    assert!(harness.query_by_label("Layer 0").is_some());
    assert_eq!(harness.state().signed_in_registries(), vec![host.clone()]);
    assert!(
        harness.state().status_message().contains("Signed in to"),
        "{}",
        harness.state().status_message()
    );
    assert!(nodes_showing(&harness, PASSWORD).is_empty());

    // The session keeps the login: another image of that registry opens at once.
    let other = push_sample_image(&registry, "private/other", "v1");
    open(&mut harness, &other.reference);
    assert_eq!(harness.state().sign_in_registry(), None);
    assert_eq!(harness.state().last_error(), None);
    assert_eq!(harness.state().image().map(|i| i.layers.len()), Some(3));

    // Registries… lists it; signing out forgets it, and the next open asks again.
    click(&mut harness, "Tools");
    click(&mut harness, "Registries…");
    click(&mut harness, &format!("Sign out of {host}"));
    assert!(harness.state().signed_in_registries().is_empty());
    assert!(
        harness.state().status_message().contains("Signed out of"),
        "{}",
        harness.state().status_message()
    );
    open(&mut harness, &image.reference);
    assert_eq!(harness.state().sign_in_registry(), Some(host.as_str()));
    click(&mut harness, "Cancel sign-in");
    assert_eq!(harness.state().sign_in_registry(), None);
}

#[test]
fn remember_stores_the_login_or_says_why_it_cannot() {
    let (_registry, _image, mut harness, host) = open_behind_login("kept/app");
    harness.step();
    type_into_focus(&mut harness, USER);
    harness.key_press(egui::Key::Tab);
    harness.step();
    type_into_focus(&mut harness, PASSWORD);
    click(&mut harness, "Remember in the OS keyring");
    click(&mut harness, "Sign in");
    step_until(&mut harness, "the image to open", |app| {
        !app.is_busy() && app.image().is_some()
    });
    assert_eq!(harness.state().layer_count(), 3);
    let status = harness.state().status_message().to_owned();
    match harness.state().last_error() {
        // No keyring here (a container's session): said plainly, signed in all the same.
        Some(error) => {
            assert!(error.contains("for this session only"), "{error}");
            assert!(error.contains("keyring"), "{error}");
        }
        None => assert!(status.contains("kept in the OS keyring"), "{status}"),
    }
    eprintln!(
        "the keyring said: {status} / {:?}",
        harness.state().last_error()
    );
    assert_eq!(harness.state().signed_in_registries(), vec![host.clone()]);
    // Signing out removes it from the session and from the keyring, if it got there.
    click(&mut harness, "Tools");
    click(&mut harness, "Registries…");
    click(&mut harness, &format!("Sign out of {host}"));
    assert!(harness.state().signed_in_registries().is_empty());
    assert!(nodes_showing(&harness, PASSWORD).is_empty());
}

/// The Compare tab's image B on a registry that wants a login: the same form opens, and the
/// comparison runs by itself once signed in.
#[test]
fn compare_with_a_refused_image_asks_for_a_login_and_compares_once_signed_in() {
    let registry = TestRegistry::start_with(RegistryAuth::Htpasswd {
        username: USER.into(),
        password: PASSWORD.into(),
    });
    let image = push_sample_image(&registry, "private/b", "v1");
    let mut harness = app_harness();
    harness.step();
    open(&mut harness, "demo");
    assert_eq!(harness.state().layer_count(), 3);
    harness.get_by_role_and_label(Role::Tab, "Compare").click();
    harness.run();
    frames::replace_text(&mut harness, "Compare with", &image.reference);
    harness
        .get_by_role_and_label(Role::Button, "Compare")
        .click();
    harness.step();
    step_until(&mut harness, "the refusal", |app| !app.is_comparing());
    let host = harness
        .state()
        .sign_in_registry()
        .expect("the sign-in form is open")
        .to_owned();
    assert!(image.reference.starts_with(&host), "{host}");
    assert_eq!(harness.state().compare_error(), None, "the form says it");
    assert!(
        harness
            .state()
            .status_message()
            .contains("sign in to compare"),
        "{}",
        harness.state().status_message()
    );

    // A wrong password keeps the form open and says so; the right one compares.
    harness.step();
    type_into_focus(&mut harness, USER);
    harness.key_press(egui::Key::Tab);
    harness.step();
    type_into_focus(&mut harness, "wrong-password");
    harness.key_press(egui::Key::Enter);
    harness.step();
    step_until(&mut harness, "the refusal of the login", |app| {
        !app.is_signing_in() && !app.is_comparing()
    });
    let refusal = harness.state().sign_in_error().expect("said").to_owned();
    assert!(refusal.contains("refused"), "{refusal}");
    assert_eq!(harness.state().compare_summary(), None);

    type_into_focus(&mut harness, PASSWORD);
    harness.key_press(egui::Key::Enter);
    harness.step();
    step_until(&mut harness, "the comparison", |app| {
        !app.is_comparing() && app.compare_summary().is_some()
    });
    assert_eq!(harness.state().sign_in_registry(), None, "the form closed");
    assert_eq!(harness.state().compare_error(), None);
    assert_eq!(harness.state().signed_in_registries(), vec![host]);
    assert!(nodes_showing(&harness, PASSWORD).is_empty());
}
