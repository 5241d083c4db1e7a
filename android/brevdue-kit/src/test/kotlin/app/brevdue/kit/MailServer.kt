package app.brevdue.kit

import org.json.JSONObject
import java.io.File
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

/**
 * The private Dovecot + SMTP relay of tests/mailserver.py, started once per test run (on
 * first use) and stopped when the JVM exits by closing its stdin.
 */
object MailServer {
    const val PASSWORD = "s3cret-pw"

    val script: String = System.getProperty("brevdue.mailserver")
        ?: System.getenv("BREVDUE_MAILSERVER")
        ?: error("set -Dbrevdue.mailserver to tests/mailserver.py (android/test.sh does)")

    private val process: Process
    val host: String
    val imapPort: Int
    val imapsPort: Int
    val pop3Port: Int
    val pop3sPort: Int
    val smtpPort: Int
    val smtpsPort: Int
    val caFile: String
    val stateDir: String

    init {
        process = ProcessBuilder("/usr/bin/python3", script, "serve")
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        val line = process.inputStream.bufferedReader().readLine()
            ?: error("tests/mailserver.py did not start (exit ${process.waitFor()})")
        val info = JSONObject(line)
        host = info.getString("host")
        imapPort = info.getInt("imap_port")
        imapsPort = info.getInt("imaps_port")
        pop3Port = info.getInt("pop3_port")
        pop3sPort = info.getInt("pop3s_port")
        smtpPort = info.getInt("smtp_port")
        smtpsPort = info.getInt("smtps_port")
        caFile = info.getString("ca_file")
        stateDir = info.getString("state_dir")
        Runtime.getRuntime().addShutdownHook(Thread {
            runCatching { process.outputStream.close() } // EOF on stdin: the server stops
            process.waitFor(20, TimeUnit.SECONDS)
        })
    }

    private val counter = AtomicInteger()

    /** A user no other test touches; its address is NAME@example.test. */
    fun newUser(prefix: String): String {
        val name = "$prefix${counter.getAndIncrement()}"
        run("/usr/bin/python3", script, "add-user", "--state-dir", stateDir, name, PASSWORD)
        return name
    }

    /**
     * Puts messages straight into a user's folder over IMAP (another mail client), in the
     * given order; `minute` sets the Date so "newest first" is known.
     */
    fun append(user: String, folder: String, messages: List<TestMessage>) {
        val payload = org.json.JSONArray(messages.map {
            JSONObject(mapOf("raw" to it.raw(), "flags" to it.flags))
        })
        val code = """
import imaplib, json, sys
m = imaplib.IMAP4("$host", $imapPort)
m.login(sys.argv[1], sys.argv[2])
for msg in json.load(sys.stdin):
    m.append(sys.argv[3], msg["flags"] or None, None, msg["raw"].encode())
m.logout()
"""
        val p = ProcessBuilder("/usr/bin/python3", "-c", code, user, PASSWORD, folder)
            .redirectErrorStream(true)
            .start()
        p.outputStream.use { it.write(payload.toString().toByteArray()) }
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor() == 0) { "IMAP append failed: $out" }
    }

    /** The subjects in a user's folder as the server has them (another mail client looking). */
    fun subjects(user: String, folder: String): List<String> {
        val code = """
import imaplib, sys, email, email.header
m = imaplib.IMAP4("$host", $imapPort)
m.login(sys.argv[1], sys.argv[2])
m.select(sys.argv[3], readonly=True)
for num in m.search(None, "UNDELETED")[1][0].split():
    raw = m.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1]
    subject = email.message_from_bytes(raw)["Subject"] or ""
    print(str(email.header.make_header(email.header.decode_header(subject))))
m.logout()
"""
        return run("/usr/bin/python3", "-c", code, user, PASSWORD, folder).lines().filter { it.isNotEmpty() }
    }

    fun run(vararg command: String): String {
        val p = ProcessBuilder(*command).redirectErrorStream(true).start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor() == 0) { "${command.joinToString(" ")} failed: $out" }
        return out
    }

    val caFileExists: Boolean get() = File(caFile).isFile
}

/** A plain RFC 5322 message for [MailServer.append]. */
data class TestMessage(
    val subject: String,
    val minute: Int,
    val from: String = "Carol Sender <carol@example.test>",
    val to: String = "someone@example.test",
    val body: String = "Hello from $subject.",
    val messageId: String = "${subject.replace(Regex("[^A-Za-z0-9]"), "-")}-$minute@example.test",
    val flags: String = "",
    val html: String? = null,
    /** One attached file: name, MIME type, bytes. */
    val attachment: Triple<String, String, ByteArray>? = null,
) {
    fun raw(): String {
        val date = java.time.ZonedDateTime.of(2026, 1, 1, 0, 0, 0, 0, java.time.ZoneOffset.UTC)
            .plusMinutes(minute.toLong())
            .format(java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME)
        val head = "From: $from\r\nTo: $to\r\nSubject: $subject\r\nDate: $date\r\n" +
            "Message-ID: <$messageId>\r\nMIME-Version: 1.0\r\n"
        if (attachment != null) {
            val (name, type, data) = attachment
            val base64 = java.util.Base64.getMimeEncoder(76, "\r\n".toByteArray()).encodeToString(data)
            return head + "Content-Type: multipart/mixed; boundary=\"m1\"\r\n\r\n" +
                "--m1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n$body\r\n" +
                "--m1\r\nContent-Type: $type; name=\"$name\"\r\n" +
                "Content-Disposition: attachment; filename=\"$name\"\r\n" +
                "Content-Transfer-Encoding: base64\r\n\r\n$base64\r\n--m1--\r\n"
        }
        return if (html == null) {
            head + "Content-Type: text/plain; charset=utf-8\r\n\r\n$body\r\n"
        } else {
            head + "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n" +
                "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n$body\r\n" +
                "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n$html\r\n--b1--\r\n"
        }
    }
}
