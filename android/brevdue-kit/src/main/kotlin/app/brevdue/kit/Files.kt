package app.brevdue.kit

import app.brevdue.core.AttachmentFile

/**
 * The operating system's side of attachments: the app implements these (a FileProvider
 * and ACTION_VIEW, the system's file pickers); tests fake them. Only the platform glue
 * lives here; what is written where is the engine's.
 */
interface FileViewer {
    /** Shows the file at [path] (in the engine's private cache) in the user's viewer. */
    fun view(path: String, name: String, mimeType: String)
}

interface FilePicker {
    /** The files the user picked to attach, with their bytes; empty if they cancelled. */
    suspend fun pickFiles(): List<AttachmentFile>

    /**
     * Asks where to save [name]; runs [write] with a file path for the chosen place while
     * it is open and returns what [write] returned, or null if the user cancelled.
     */
    suspend fun <T : Any> saveAs(name: String, mimeType: String, write: suspend (path: String) -> T): T?
}
