package app.brevdue.android

import android.app.Application
import android.app.NotificationChannel
import android.app.NotificationManager
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import app.brevdue.kit.Mail

/** Opens the one engine of the app on its private data directory. */
class BrevdueApp : Application() {
    lateinit var mail: Mail
        private set

    override fun onCreate() {
        super.onCreate()
        PlatformTls.init(this)
        mail = Mail.open(filesDir.resolve("mail").path, KeystorePasswordStore(this))
        getSystemService(NotificationManager::class.java).createNotificationChannel(
            NotificationChannel(
                NewMailNotifier.CHANNEL,
                getString(R.string.channel_new_mail),
                NotificationManager.IMPORTANCE_DEFAULT,
            ).apply { description = getString(R.string.channel_new_mail_description) },
        )
        NewMailNotifier.listen(this, mail)
        SyncWorker.schedule(this)
        // Wi-Fi to mobile and back: rebuild the push connections at once.
        getSystemService(ConnectivityManager::class.java).registerDefaultNetworkCallback(
            object : ConnectivityManager.NetworkCallback() {
                override fun onAvailable(network: Network) {
                    runCatching { mail.engine.networkChanged() }
                }

                // Mobile data or a metered hotspot: the engine brings headers only.
                override fun onCapabilitiesChanged(network: Network, capabilities: NetworkCapabilities) {
                    val metered = !capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED)
                    runCatching { mail.engine.setMetered(metered) }
                }
            },
        )
        runCatching { mail.engine.startPush(null) }
    }
}

val android.content.Context.mail: Mail get() = (applicationContext as BrevdueApp).mail
