package app.brevdue.android

import android.content.Intent
import android.net.Uri
import android.provider.OpenableColumns
import androidx.activity.ComponentActivity
import androidx.activity.result.contract.ActivityResultContracts
import androidx.core.content.FileProvider
import app.brevdue.core.AttachmentFile
import app.brevdue.kit.FilePicker
import app.brevdue.kit.FileViewer
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import java.io.File

/**
 * The kit's file interfaces on Android: the system's document pickers, and ACTION_VIEW
 * on a FileProvider URI for a file in the engine's cache (`res/xml/file_paths.xml`).
 * Made in `onCreate`, since the pickers must be registered before the activity starts.
 */
class AndroidFiles(private val activity: ComponentActivity) : FileViewer, FilePicker {
    private var picking: CompletableDeferred<List<Uri>>? = null
    private var creating: CompletableDeferred<Uri?>? = null
    private val pick = activity.registerForActivityResult(ActivityResultContracts.OpenMultipleDocuments()) {
        picking?.complete(it)
    }
    private val create = activity.registerForActivityResult(ActivityResultContracts.CreateDocument("*/*")) {
        creating?.complete(it)
    }

    override fun view(path: String, name: String, mimeType: String) {
        val uri = FileProvider.getUriForFile(activity, "${activity.packageName}.files", File(path))
        val intent = Intent(Intent.ACTION_VIEW)
            .setDataAndType(uri, mimeType)
            .addFlags(Intent.FLAG_GRANT_READ_URI_PERMISSION)
        activity.startActivity(Intent.createChooser(intent, name))
    }

    override suspend fun pickFiles(): List<AttachmentFile> {
        val uris = CompletableDeferred<List<Uri>>().also { picking = it }
        pick.launch(arrayOf("*/*"))
        val resolver = activity.contentResolver
        return withContext(Dispatchers.IO) {
            uris.await().map { uri ->
                val name = resolver.query(uri, arrayOf(OpenableColumns.DISPLAY_NAME), null, null, null)?.use {
                    if (it.moveToFirst()) it.getString(0) else null
                } ?: uri.lastPathSegment ?: "attachment"
                val data = resolver.openInputStream(uri)?.use { it.readBytes() } ?: ByteArray(0)
                AttachmentFile(name, resolver.getType(uri) ?: "application/octet-stream", data)
            }
        }
    }

    override suspend fun <T : Any> saveAs(name: String, mimeType: String, write: suspend (path: String) -> T): T? {
        val uri = CompletableDeferred<Uri?>().also { creating = it }
        create.launch(name)
        val chosen = uri.await() ?: return null
        // The engine writes a path: the chosen document, open here, as this process's fd.
        val fd = withContext(Dispatchers.IO) { activity.contentResolver.openFileDescriptor(chosen, "wt") }
            ?: return null
        return fd.use { write("/proc/self/fd/${it.fd}") }
    }
}
