package app.brevdue.kit

import com.sun.jna.Library
import com.sun.jna.Native
import org.json.JSONObject
import java.io.File
import java.util.concurrent.TimeUnit

/**
 * The private "provider" of tests/provider.py (dnsmasq + an HTTPS autoconfig server on
 * 127.0.0.1) in front of [MailServer], started once per run on first use and stopped
 * when the JVM exits (EOF on its stdin). Starting it points the engine's discovery test
 * hooks (BREVDUE_TEST_DNS, _HTTPS_PORT, _ISPDB, _GUESS_PORTS) at it: the engine reads
 * them from this process's environment, so they are set with libc's setenv.
 */
object Provider {
    private interface LibC : Library {
        fun setenv(name: String, value: String, overwrite: Int): Int
    }

    private val process: Process
    val domains: List<String>

    init {
        val script = File(File(MailServer.script).parentFile, "provider.py").path
        process = ProcessBuilder("/usr/bin/python3", script, "serve", "--mail-server", MailServer.stateDir)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        val line = process.inputStream.bufferedReader().readLine()
            ?: error("tests/provider.py did not start (exit ${process.waitFor()})")
        val info = JSONObject(line)
        domains = info.getJSONArray("domains").map { it.toString() }
        val libc = Native.load("c", LibC::class.java)
        mapOf(
            "BREVDUE_TEST_DNS" to info.getString("dns"),
            "BREVDUE_TEST_HTTPS_PORT" to info.getInt("https_port").toString(),
            "BREVDUE_TEST_ISPDB" to info.getString("ispdb_url"),
            "BREVDUE_TEST_GUESS_PORTS" to info.getString("guess_ports"),
        ).forEach { (k, v) -> check(libc.setenv(k, v, 1) == 0) { "setenv $k" } }
        Runtime.getRuntime().addShutdownHook(Thread {
            runCatching { process.outputStream.close() }
            process.waitFor(20, TimeUnit.SECONDS)
        })
    }

    /** Starts it (once) and points discovery at it. */
    fun start() = this
}
