package app.brevdue.kit

import app.brevdue.core.BrevdueEngine
import app.brevdue.core.EngineListener
import app.brevdue.core.Event
import app.brevdue.core.EventSubscription
import app.brevdue.core.PasswordStore
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.flow.filterIsInstance

/**
 * One engine on one data directory, shared by every view model of the app.
 *
 * Every engine call that reads or writes the store is a suspend function that runs on the
 * engine's own threads and never blocks the caller, so no call here needs a dispatcher.
 * Engine events are re-published as a [SharedFlow].
 */
class Mail(val engine: BrevdueEngine) : AutoCloseable {
    private val _events = MutableSharedFlow<Event>(
        extraBufferCapacity = 1024,
        onBufferOverflow = BufferOverflow.DROP_OLDEST,
    )

    /** Every engine event, as it arrives (on the engine's callback thread). */
    val events: SharedFlow<Event> = _events.asSharedFlow()

    /**
     * Mail to notify the user about, as the engine decides it (unseen, in the Inbox, not
     * an account's first sync, not a copy of mail this device sent or moved). The only
     * source of notifications: nothing here counts arrivals.
     */
    val newMail: Flow<Event.NewMail> = events.filterIsInstance()

    private val subscription: EventSubscription = engine.subscribe(object : EngineListener {
        override fun onEvent(event: Event) {
            _events.tryEmit(event)
        }
    })

    /** Runs engine calls (suspending; the engine does the work on its own threads). */
    suspend fun <T> call(block: suspend (BrevdueEngine) -> T): T = block(engine)

    /** Stops events and background work, then frees the engine. */
    override fun close() {
        // `cancel`/`shutdown` stop them; `close()` (from `use`) then frees the Rust handle.
        subscription.use { it.cancel() }
        engine.use { it.shutdown() }
    }

    companion object {
        /** Opens (or creates) the engine's data directory. */
        fun open(dataDir: String, passwords: PasswordStore): Mail =
            Mail(BrevdueEngine.open(dataDir, passwords))
    }
}
