package app.brevdue.android

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.Base64
import app.brevdue.core.Advice
import app.brevdue.core.BrevdueException
import app.brevdue.core.PasswordStore
import java.security.KeyStore
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * Account passwords for the engine, encrypted with an AES-GCM key that never leaves the
 * Android Keystore. The ciphertexts (IV + sealed password) live in private
 * SharedPreferences; the engine's SQLite file never holds a password.
 */
class KeystorePasswordStore(context: Context) : PasswordStore {
    private val prefs = context.getSharedPreferences("brevdue-passwords", Context.MODE_PRIVATE)

    private fun key(): SecretKey {
        val keyStore = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }
        (keyStore.getEntry(KEY_ALIAS, null) as? KeyStore.SecretKeyEntry)?.let { return it.secretKey }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE)
        generator.init(
            KeyGenParameterSpec.Builder(KEY_ALIAS, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build(),
        )
        return generator.generateKey()
    }

    override fun get(account: String): String? {
        val stored = prefs.getString(account, null) ?: return null
        return try {
            val bytes = Base64.decode(stored, Base64.NO_WRAP)
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.DECRYPT_MODE, key(), GCMParameterSpec(128, bytes, 0, IV_SIZE))
            String(cipher.doFinal(bytes, IV_SIZE, bytes.size - IV_SIZE), Charsets.UTF_8)
        } catch (e: Exception) {
            throw BrevdueException.Storage("cannot read the password of $account: ${e.message}", Advice("storage", ""))
        }
    }

    override fun set(account: String, password: String) {
        try {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.ENCRYPT_MODE, key()) // the Keystore picks a fresh IV
            val sealed = cipher.iv + cipher.doFinal(password.toByteArray(Charsets.UTF_8))
            check(cipher.iv.size == IV_SIZE)
            prefs.edit().putString(account, Base64.encodeToString(sealed, Base64.NO_WRAP)).apply()
        } catch (e: Exception) {
            throw BrevdueException.Storage("cannot store the password of $account: ${e.message}", Advice("storage", ""))
        }
    }

    override fun delete(account: String) {
        prefs.edit().remove(account).apply()
    }

    private companion object {
        const val ANDROID_KEYSTORE = "AndroidKeyStore"
        const val KEY_ALIAS = "brevdue-passwords"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val IV_SIZE = 12
    }
}
