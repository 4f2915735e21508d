// TEMPORARY STUB — replaced by the real translator.
using System.Text.Json.Nodes;

namespace Tollgate.Providers.Anthropic;

internal static class AnthropicTranslator
{
    internal static JsonObject ToAnthropicRequest(JsonObject openAiRequest, string upstreamModel, int defaultMaxTokens) => throw new NotImplementedException();
    internal static JsonObject ToOpenAiCompletion(JsonObject anthropicResponse, long created) => throw new NotImplementedException();
    internal static (int Status, string Message) MapError(int upstreamStatus, string? body) => throw new NotImplementedException();
}

internal sealed class AnthropicStreamTranslator(long created)
{
    public long Created => created;
    public IReadOnlyList<JsonObject> Translate(string eventType, JsonObject data) => throw new NotImplementedException();
}

internal sealed class AnthropicStreamException(string message) : Exception(message);
