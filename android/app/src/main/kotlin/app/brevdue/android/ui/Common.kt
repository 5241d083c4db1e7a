package app.brevdue.android.ui

import androidx.compose.foundation.layout.RowScope
import androidx.compose.material.icons.Icons
import androidx.compose.material.icons.automirrored.filled.ArrowBack
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.Icon
import androidx.compose.material3.IconButton
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.ui.platform.LocalConfiguration
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.res.stringResource
import app.brevdue.android.R
import app.brevdue.android.adviceText
import app.brevdue.android.errorText
import app.brevdue.core.Advice
import app.brevdue.kit.UiError

@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun BackBar(title: String, onBack: () -> Unit, actions: @Composable RowScope.() -> Unit = {}) {
    TopAppBar(
        title = { Text(title) },
        navigationIcon = {
            IconButton(onClick = onBack) { Icon(Icons.AutoMirrored.Filled.ArrowBack, stringResource(R.string.back)) }
        },
        actions = actions,
    )
}

/** [Advice] in the user's language (recomposed when the locale changes). */
@Composable
fun adviceText(advice: Advice?, fallback: String = advice?.detail ?: ""): String {
    LocalConfiguration.current
    return LocalContext.current.adviceText(advice, fallback)
}

/** A failure in the user's language: its advice, else the engine's sentence. */
@Composable
fun errorText(error: UiError): String {
    LocalConfiguration.current
    return LocalContext.current.errorText(error)
}
