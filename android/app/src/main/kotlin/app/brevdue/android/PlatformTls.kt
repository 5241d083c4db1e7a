package app.brevdue.android

import android.content.Context

/**
 * Hands the app's Context to the engine's certificate verifier (rustls-platform-verifier,
 * which asks Android's trust manager through its Kotlin half, the `rustls:rustls-platform-verifier`
 * dependency). Called once from [BrevdueApp.onCreate], before any connection; without it
 * every TLS connection fails with a clear error.
 */
object PlatformTls {
    init {
        System.loadLibrary("brevdue_core")
    }

    @JvmStatic
    external fun init(context: Context)
}
