package app.brevdue.kit

import app.brevdue.core.BrevdueEngine
import app.brevdue.core.EngineListener
import app.brevdue.core.Event
import app.brevdue.core.EventSubscription
import app.brevdue.core.PasswordStore
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.flow.filterIsInstance
import kotlinx.coroutines.withContext

/**
 * One engine on one data directory, shared by every view model of the app.
 *
 * The engine's synchronous calls read SQLite, so they run on [io]; its async calls already
 * run on the engine's own runtime. Engine events are re-published as a [SharedFlow].
 */
class Mail(
    val engine: BrevdueEngine,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) : AutoCloseable {
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

    /** Runs a blocking engine call off the caller's thread. */
    suspend fun <T> call(block: (BrevdueEngine) -> T): T = withContext(io) { block(engine) }

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
