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
import app.brevdue.core.ErrorKind
import java.util.concurrent.TimeUnit

/**
 * Periodic background sync (WorkManager's minimum is 15 minutes): the engine's "sync now"
 * (outbox, queued changes, new mail). New messages raise notifications through
 * [NewMailNotifier], which listens to the engine's NewMail events.
 */
class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val report = try {
            applicationContext.mail.engine.syncNow(null)
        } catch (e: BrevdueException) {
            return Result.retry()
        }
        val problems = report.accounts.mapNotNull { it.problem?.kind }
        return when {
            problems.isEmpty() -> Result.success()
            // The user must fix the password; the app shows the error. Retrying cannot help.
            problems.all { it == ErrorKind.AUTH_FAILED || it == ErrorKind.MISSING_CREDENTIALS } -> Result.failure()
            else -> Result.retry() // network, timeout, server trouble: WorkManager backs off
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
