package app.brevdue.kit

import app.brevdue.core.MessageSummary
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

data class SearchState(
    val query: String = "",
    val results: List<MessageSummary> = emptyList(),
    val error: UiError? = null,
)

/** Local full-text search (subject, people, body), newest first. */
class SearchViewModel(private val mail: Mail, private val limit: Int = 100) {
    private val _state = MutableStateFlow(SearchState())
    val state: StateFlow<SearchState> = _state.asStateFlow()

    suspend fun search(query: String, account: String? = null) {
        if (query.isBlank()) {
            _state.value = SearchState(query)
            return
        }
        val results = catching({ e -> _state.value = SearchState(query, error = e) }) {
            mail.call { it.search(query, account, limit.toUInt()) }
        } ?: return
        _state.value = SearchState(query, results)
    }
}
