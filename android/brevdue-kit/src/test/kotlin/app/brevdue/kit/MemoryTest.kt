package app.brevdue.kit

import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File
import java.nio.file.Files

/** Opening and closing an engine 1,000 times keeps memory bounded. */
class MemoryTest {
    private fun status(field: String): Long = File("/proc/self/status").readLines()
        .first { it.startsWith("$field:") }
        .split(Regex("\\s+"))[1].toLong()

    private fun rssKb() = status("VmRSS")

    private fun settle() {
        repeat(3) {
            System.gc()
            Thread.sleep(100)
        }
    }

    @Test
    fun `open and close an engine 1000 times`() {
        val dir = Files.createTempDirectory("brevdue-memory-").toFile()
        val passwords = MemoryPasswordStore()
        fun cycle() {
            val mail = Mail.open(dir.path, passwords) // engine, runtime, store, subscription
            kotlinx.coroutines.runBlocking { mail.engine.accounts() }
            mail.close()
        }
        try {
            repeat(100) { cycle() } // warm-up: JIT, JNA, SQLite caches, allocator arenas
            settle()
            val before = rssKb()
            val threadsBefore = status("Threads")
            val start = System.nanoTime()
            repeat(1000) { cycle() }
            val seconds = (System.nanoTime() - start) / 1e9
            settle()
            val after = rssKb()
            val threadsAfter = status("Threads")
            val growthMb = (after - before) / 1024.0
            println(
                "memory: VmRSS %.1f MB after warm-up, %.1f MB after 1000 open+close: growth %.1f MB (%.1f s, %.2f ms each)"
                    .format(before / 1024.0, after / 1024.0, growthMb, seconds, seconds * 1000 / 1000),
            )
            assertTrue(growthMb < 50.0, "RSS grew by %.1f MB over 1000 open+close".format(growthMb))
            println("memory: threads $threadsBefore before, $threadsAfter after")
            // Each engine owns a runtime with 2 workers; none may outlive its engine for long.
            assertTrue(threadsAfter - threadsBefore < 20, "threads $threadsBefore -> $threadsAfter")
        } finally {
            dir.deleteRecursively()
        }
    }
}
