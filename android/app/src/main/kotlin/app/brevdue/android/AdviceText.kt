package app.brevdue.android

import android.annotation.SuppressLint
import android.content.Context
import app.brevdue.core.Advice
import app.brevdue.kit.UiError

/**
 * The engine's advice in the user's language: the `advice_<id>` string the core writes
 * into `res/values/advice.xml` (and `values-nb/`), with its detail; [fallback] (the engine's English, or
 * the detail) for an id this build does not know (a newer engine) or no advice at all.
 */
@SuppressLint("DiscouragedApi") // the ids come from the engine, not from R
fun Context.adviceText(advice: Advice?, fallback: String = advice?.detail ?: ""): String {
    if (advice == null) return fallback
    val res = resources.getIdentifier("advice_" + advice.id, "string", packageName)
    return if (res != 0) getString(res, advice.detail) else fallback.ifEmpty { advice.detail }
}

/** What a screen says about a failure: its advice, else the engine's sentence. */
fun Context.errorText(error: UiError): String = adviceText(error.advice, error.reason)
