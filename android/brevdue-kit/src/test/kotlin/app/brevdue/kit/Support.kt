package app.brevdue.kit

import app.brevdue.core.EngineListener
import app.brevdue.core.Event
import app.brevdue.core.MessageSummary
import app.brevdue.core.Pop3DeletePolicy
import app.brevdue.core.Protocol
import app.brevdue.core.Security
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.withTimeout
import org.json.JSONArray
import org.json.JSONObject
import java.io.File
import java.nio.file.Files
import java.util.Collections

/** The form for a test account on the private server; the engine fills in the rest. */
fun imapDraft(name: String, user: String) = accountDraft(
    name = name, email = "$user@example.test", protocol = Protocol.IMAP, host = MailServer.host,
    port = MailServer.imapsPort.toUShort(), security = Security.TLS, username = user,
    caFile = MailServer.caFile, smtpPort = MailServer.smtpsPort.toUShort(), smtpSecurity = Security.TLS,
)

fun pop3Draft(name: String, user: String, policy: Pop3DeletePolicy = Pop3DeletePolicy.Never) = accountDraft(
    name = name, email = "$user@example.test", protocol = Protocol.POP3, host = MailServer.host,
    port = MailServer.pop3sPort.toUShort(), security = Security.TLS, username = user,
    caFile = MailServer.caFile, smtpPort = MailServer.smtpsPort.toUShort(), smtpSecurity = Security.TLS,
    pop3Delete = policy,
)

/** Records every event a listener receives. */
class Recorder : EngineListener {
    val events: MutableList<Event> = Collections.synchronizedList(mutableListOf())
    override fun onEvent(event: Event) {
        events += event
    }
    fun snapshot(): List<Event> = synchronized(events) { events.toList() }
}

/** A device running the engine through the kit: its own data directory and view models. */
class Phone(name: String = "phone") : AutoCloseable {
    val dir: File = Files.createTempDirectory("brevdue-$name-").toFile()
    val passwords = MemoryPasswordStore()
    val mail = Mail.open(dir.path, passwords)
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
    val accounts = AccountsViewModel(mail, scope)
    val sync = SyncViewModel(mail, scope)
    val folders = FoldersViewModel(mail, scope)
    val list = MessageListViewModel(mail, scope, pageSize = 20)
    val reader = ReaderViewModel(mail)
    val composer = ComposerViewModel(mail)
    val search = SearchViewModel(mail)
    val changes = ChangesViewModel(mail, scope)
    val advice = AdviceViewModel(mail, scope)

    /** One sync pass through the view model; fails the test with the engine's error. */
    suspend fun syncOk(account: String) {
        if (!sync.sync(account)) {
            throw AssertionError("sync $account failed: ${sync.status.value.syncNowProblems[account] ?: sync.status.value.error}")
        }
    }

    suspend fun messages(folder: String? = null): List<MessageSummary> =
        mail.engine.messages(null, folder, 10_000u, 0u)

    suspend fun find(messageId: String): MessageSummary =
        messages().firstOrNull { it.messageId == messageId } ?: error("$messageId not on this device")

    override fun close() {
        scope.cancel()
        mail.close()
        dir.deleteRecursively()
    }
}

/** The Rust CLI `brevdue` as the "PC": its own data directory. */
class Pc(name: String = "pc") : AutoCloseable {
    val dir: File = Files.createTempDirectory("brevdue-$name-").toFile()
    private val cli: String = System.getProperty("brevdue.cli")
        ?: System.getenv("BREVDUE_CLI") ?: error("set -Dbrevdue.cli to target/debug/brevdue")

    fun run(vararg args: String): String {
        val p = ProcessBuilder(listOf(cli, "--data-dir", dir.path) + args)
            .redirectError(ProcessBuilder.Redirect.PIPE)
            .apply { environment()["PC_PASSWORD"] = MailServer.PASSWORD }
            .start()
        val out = p.inputStream.bufferedReader().readText()
        val err = p.errorStream.bufferedReader().readText()
        check(p.waitFor() == 0) { "brevdue ${args.joinToString(" ")} failed: $err" }
        return out
    }

    fun addImap(name: String, user: String) = run(
        "account", "add", name, "--email", "$user@example.test", "--protocol", "imap",
        "--host", MailServer.host, "--port", "${MailServer.imapsPort}", "--security", "tls",
        "--user", user, "--password-env", "PC_PASSWORD", "--ca-file", MailServer.caFile,
        "--smtp-port", "${MailServer.smtpsPort}", "--smtp-security", "tls",
    )

    fun addPop3(name: String, user: String, policy: String) = run(
        "account", "add", name, "--email", "$user@example.test", "--protocol", "pop3",
        "--host", MailServer.host, "--port", "${MailServer.pop3sPort}", "--security", "tls",
        "--user", user, "--password-env", "PC_PASSWORD", "--ca-file", MailServer.caFile,
        "--pop3-delete", policy,
        "--smtp-port", "${MailServer.smtpsPort}", "--smtp-security", "tls",
    )

    /** `list --json` of every folder: message_id to the JSON row. */
    fun list(folder: String? = null): Map<String, JSONObject> {
        val args = mutableListOf("list", "--json", "--limit", "1000")
        if (folder != null) args += listOf("--folder", folder)
        val rows = JSONArray(run(*args.toTypedArray()))
        return (0 until rows.length()).map { rows.getJSONObject(it) }
            .associateBy { it.getString("message_id") }
    }

    fun folders(): List<String> {
        val rows = JSONArray(run("folders", "--json"))
        return (0 until rows.length()).map { rows.getJSONObject(it).getString("name") }
    }

    override fun close() {
        dir.deleteRecursively()
    }
}

/** Waits (up to [seconds]) for the state to satisfy [check]. */
suspend fun <T> StateFlow<T>.await(seconds: Long = 20, what: String = "state", check: (T) -> Boolean): T =
    try {
        withTimeout(seconds * 1000) { first(check) }
    } catch (e: kotlinx.coroutines.TimeoutCancellationException) {
        throw AssertionError("timed out waiting for $what; last: $value")
    }

/** Polls [check] until it holds or [seconds] pass. */
suspend fun eventually(seconds: Long = 20, check: () -> Boolean): Boolean {
    val deadline = System.currentTimeMillis() + seconds * 1000
    while (System.currentTimeMillis() < deadline) {
        if (check()) return true
        delay(50)
    }
    return check()
}

fun messages(prefix: String, count: Int, start: Int = 0) =
    (0 until count).map { TestMessage("$prefix ${it + start}", minute = it + start) }
