package app.brevdue.kit

import app.brevdue.core.BrevdueException
import app.brevdue.core.Folder
import app.brevdue.core.FolderListDiff
import app.brevdue.core.ListSubscription
import app.brevdue.core.MessageListDiff
import app.brevdue.core.MessageSummary
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.first

/** One diff of an engine live list, whichever list it is. */
sealed interface RowDiff<T> {
    data class Reset<T>(val rows: List<T>) : RowDiff<T>
    data class Insert<T>(val index: Int, val row: T) : RowDiff<T>
    data class Set<T>(val index: Int, val row: T) : RowDiff<T>
    data class Remove<T>(val index: Int) : RowDiff<T>
}

fun MessageListDiff.toRowDiff(): RowDiff<MessageSummary> = when (this) {
    is MessageListDiff.Reset -> RowDiff.Reset(rows)
    is MessageListDiff.Insert -> RowDiff.Insert(index.toInt(), row)
    is MessageListDiff.Set -> RowDiff.Set(index.toInt(), row)
    is MessageListDiff.Remove -> RowDiff.Remove(index.toInt())
}

fun FolderListDiff.toRowDiff(): RowDiff<Folder> = when (this) {
    is FolderListDiff.Reset -> RowDiff.Reset(rows)
    is FolderListDiff.Insert -> RowDiff.Insert(index.toInt(), row)
    is FolderListDiff.Set -> RowDiff.Set(index.toInt(), row)
    is FolderListDiff.Remove -> RowDiff.Remove(index.toInt())
}

/**
 * The list after [diffs], applied in order (each index counts in the list as the diffs
 * before it left it). Rows the diffs do not touch stay the same objects.
 */
fun <T> List<T>.applying(diffs: List<RowDiff<T>>): List<T> {
    val out = toMutableList()
    for (d in diffs) {
        when (d) {
            is RowDiff.Reset -> {
                out.clear()
                out.addAll(d.rows)
            }
            is RowDiff.Insert -> out.add(d.index, d.row)
            is RowDiff.Set -> out[d.index] = d.row
            is RowDiff.Remove -> out.removeAt(d.index)
        }
    }
    return out
}

/**
 * The one live list a view model shows: [start] cancels the previous subscription, and
 * whatever that one still had on its way is dropped (the engine may be calling back while
 * it is cancelled). Callbacks run on the engine's thread, one at a time per list.
 */
internal class LiveSubscription<T> {
    private val lock = Any()
    private var subscription: ListSubscription? = null
    private var listener: Listener? = null
    /** Callbacks delivered so far, for callers that wait for the list or the next page. */
    private val delivered = MutableStateFlow(0L)

    inner class Listener(
        private val onDiffs: (List<RowDiff<T>>) -> Unit,
        private val onError: (BrevdueException) -> Unit,
    ) {
        private var active = true

        fun diffs(diffs: List<RowDiff<T>>) = deliver { onDiffs(diffs) }

        fun error(error: BrevdueException) = deliver { onError(error) }

        private fun deliver(block: () -> Unit) = synchronized(lock) {
            if (active) {
                block()
                delivered.value += 1
            }
        }

        fun deactivate() {
            active = false
        }
    }

    /**
     * Replaces the list: [reset] runs (under the lock) before the new subscription starts;
     * returns the count to pass to [awaitDelivery] for its first list.
     */
    fun start(
        onDiffs: (List<RowDiff<T>>) -> Unit,
        onError: (BrevdueException) -> Unit,
        reset: () -> Unit,
        subscribe: (Listener) -> ListSubscription,
    ): Long = synchronized(lock) {
        cancelLocked()
        reset()
        val l = Listener(onDiffs, onError)
        listener = l
        val before = delivered.value
        try {
            subscription = subscribe(l)
        } catch (e: BrevdueException) {
            l.error(e)
        }
        before
    }

    /**
     * Asks for as many rows as [limit] says (computed under the lock the callbacks hold);
     * the difference arrives as diffs. Returns the count for [awaitDelivery].
     */
    fun setLimit(limit: () -> Int): Long = synchronized(lock) {
        val before = delivered.value
        subscription?.setLimit(limit().toUInt())
        before
    }

    /** Waits for a callback after the one counted in [before]. */
    suspend fun awaitDelivery(before: Long) {
        delivered.first { it > before }
    }

    fun cancel() = synchronized(lock) { cancelLocked() }

    private fun cancelLocked() {
        listener?.deactivate()
        listener = null
        subscription?.let { it.use { s -> s.cancel() } } // cancel, then free the handle
        subscription = null
    }
}
