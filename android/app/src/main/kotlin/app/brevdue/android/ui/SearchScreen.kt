package app.brevdue.android.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.res.stringResource
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import app.brevdue.android.MailViewModel
import app.brevdue.android.R

/** Local full-text search over every account, as you type. */
@Composable
fun SearchScreen(model: MailViewModel, onBack: () -> Unit, open: (Long) -> Unit) {
    val state by model.search.state.collectAsStateWithLifecycle()
    Column {
        BackBar(stringResource(R.string.search), onBack)
        OutlinedTextField(
            state.query, { q -> model.act { model.search.search(q) } },
            Modifier.fillMaxWidth().padding(16.dp), label = { Text(stringResource(R.string.search_hint)) },
        )
        state.error?.let { Text(errorText(it), Modifier.padding(16.dp)) }
        LazyColumn {
            items(state.results, key = { it.id }) { m -> MessageRow(m) { open(m.id) } }
        }
    }
}
