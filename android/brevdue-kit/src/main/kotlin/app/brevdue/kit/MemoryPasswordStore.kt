package app.brevdue.kit

import app.brevdue.core.PasswordStore
import java.util.concurrent.ConcurrentHashMap

/** Passwords in memory only: for tests and previews. The app uses the Android Keystore. */
class MemoryPasswordStore : PasswordStore {
    private val passwords = ConcurrentHashMap<String, String>()

    override fun get(account: String): String? = passwords[account]

    override fun set(account: String, password: String) {
        passwords[account] = password
    }

    override fun delete(account: String) {
        passwords.remove(account)
    }

    val size: Int get() = passwords.size
}
