//! Android: rustls-platform-verifier asks Android's trust manager through the JVM, so the
//! app hands over its Context once at start (`app.brevdue.android.PlatformTls.init`, from
//! `Application.onCreate`), before any connection. Until then a TLS connection fails with
//! a clear error instead of the verifier's panic.

use std::sync::atomic::{AtomicBool, Ordering};

use jni::errors::ThrowRuntimeExAndDefault;
use jni::jni_mangle;
use jni::objects::{JClass, JObject};
use jni::EnvUnowned;

static READY: AtomicBool = AtomicBool::new(false);

/// `PlatformTls.init(context)`; a failure is thrown as a RuntimeException.
#[jni_mangle("app.brevdue.android.PlatformTls")]
pub fn init<'caller>(
    mut env: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    context: JObject<'caller>,
) {
    let ready = env
        .with_env(|env| {
            rustls_platform_verifier::android::init_with_env(env, context).map(|()| true)
        })
        .resolve::<ThrowRuntimeExAndDefault>();
    if ready {
        READY.store(true, Ordering::SeqCst);
    }
}

/// Whether the app has initialised the verifier.
pub fn verifier_ready() -> bool {
    READY.load(Ordering::SeqCst)
}
