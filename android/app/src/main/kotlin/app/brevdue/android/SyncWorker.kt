package app.brevdue.android

import android.content.Context
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.NetworkType
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import app.brevdue.core.BrevdueException
import java.util.concurrent.TimeUnit

/**
 * Periodic background sync (WorkManager's minimum is 15 minutes): the outbox, the queued
 * changes, then new mail. New messages raise notifications through [NewMailNotifier],
 * which listens to the engine's events.
 */
class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val engine = applicationContext.mail.engine
        return try {
            engine.sendOutbox(null)
            engine.pushChanges(null)
            engine.sync(null)
            Result.success()
        } catch (e: BrevdueException.AuthFailed) {
            Result.failure() // the user must fix the password; the app shows the error
        } catch (e: BrevdueException.MissingCredentials) {
            Result.failure()
        } catch (e: BrevdueException) {
            Result.retry() // network, timeout, server trouble: WorkManager backs off
        }
    }

    companion object {
        private const val NAME = "brevdue-periodic-sync"

        fun schedule(context: Context) {
            val request = PeriodicWorkRequestBuilder<SyncWorker>(15, TimeUnit.MINUTES)
                .setConstraints(Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build())
                .build()
            WorkManager.getInstance(context)
                .enqueueUniquePeriodicWork(NAME, ExistingPeriodicWorkPolicy.KEEP, request)
        }
    }
}
