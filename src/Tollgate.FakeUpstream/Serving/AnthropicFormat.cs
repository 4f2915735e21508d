using System.Globalization;
using System.Text.Json;

namespace Tollgate.FakeUpstream.Serving;

/// <summary>
/// Anthropic Messages: a <c>message</c> JSON body, or the event sequence <c>message_start</c>,
/// <c>content_block_start</c>, <c>ping</c>, <c>content_block_delta</c>..., <c>content_block_stop</c>,
/// <c>message_delta</c> (stop reason, cumulative output tokens), <c>message_stop</c>.
/// Requires <c>x-api-key</c>, <c>anthropic-version</c> and <c>max_tokens</c>, as Anthropic does.
/// </summary>
internal sealed class AnthropicFormat : WireFormat
{
    private const string ToolUseId = "toolu_fake_get_weather";

    public override string? RejectCredentials(HttpRequest request) =>
        string.IsNullOrEmpty(request.Headers["x-api-key"]) ? "x-api-key header is required"
        : string.IsNullOrEmpty(request.Headers["anthropic-version"]) ? "anthropic-version: header is required"
        : null;

    public override string? Validate(in ParsedRequest request) =>
        request.Model is null ? "model: Field required"
        : !request.HasMessages ? "messages: Field required"
        : !request.HasMaxTokens ? "max_tokens: Field required"
        : request.ThinkingError;

    public override Template BuildJson(Scenario scenario, string model)
    {
        var content = scenario.ToolCall
            ? """{"type":"tool_use","id":"{id}","name":"{name}","input":{input}}"""
                .Replace("{id}", ToolUseId, StringComparison.Ordinal)
                .Replace("{name}", Answer.ToolName, StringComparison.Ordinal)
                .Replace("{input}", Answer.ToolArguments, StringComparison.Ordinal)
            : """{"type":"text","text":{text}}"""
                .Replace("{text}", Answer.Quote(string.Concat(Answer.TextChunks(scenario))), StringComparison.Ordinal);

        if (scenario.Thinking)
        {
            content = ThinkingBlocks(scenario) + "," + content;
        }

        var body = """{"id":"msg_fake_{seq}","type":"message","role":"assistant","model":{model},"content":[{content}],"stop_reason":"{stop}","stop_sequence":null{usage}}"""
            .Replace("{content}", content, StringComparison.Ordinal)
            .Replace("{stop}", StopReason(scenario), StringComparison.Ordinal)
            .Replace("{usage}", scenario.Usage ? ",\"usage\":" + Usage(scenario, Answer.CompletionTokens(scenario)) : "", StringComparison.Ordinal);
        return Make(body, model);
    }

    public override StreamedAnswer BuildSse(Scenario scenario, string model, bool includeUsage)
    {
        // Like the real API, message_start reports the input and a first output token; message_delta the cumulative output.
        var messageStart = """{"type":"message_start","message":{"id":"msg_fake_{seq}","type":"message","role":"assistant","model":{model},"content":[],"stop_reason":null,"stop_sequence":null{usage}}}"""
            .Replace("{usage}", scenario.Usage ? ",\"usage\":" + Usage(scenario, Math.Min(1, Answer.CompletionTokens(scenario))) : "", StringComparison.Ordinal);

        // Thinking comes first: its block at index 0, the redacted one at 1, then the answer's block.
        var main = !scenario.Thinking ? 0 : scenario.RedactedThinking ? 2 : 1;
        var index = main.ToString(CultureInfo.InvariantCulture);
        string blockStart;
        Template[] chunks;
        if (scenario.ToolCall)
        {
            blockStart = """{"type":"content_block_start","index":{index},"content_block":{"type":"tool_use","id":"{id}","name":"{name}","input":{}}}"""
                .Replace("{id}", ToolUseId, StringComparison.Ordinal)
                .Replace("{name}", Answer.ToolName, StringComparison.Ordinal);
            chunks = [.. Answer.ToolArgumentParts.Select(part => Event("content_block_delta",
                """{"type":"content_block_delta","index":{index},"delta":{"type":"input_json_delta","partial_json":{part}}}"""
                    .Replace("{part}", Answer.Quote(part), StringComparison.Ordinal)))];
        }
        else
        {
            blockStart = """{"type":"content_block_start","index":{index},"content_block":{"type":"text","text":""}}""";
            chunks = [.. Answer.TextChunks(scenario).Select(text => Event("content_block_delta",
                """{"type":"content_block_delta","index":{index},"delta":{"type":"text_delta","text":{text}}}"""
                    .Replace("{text}", Answer.Quote(text), StringComparison.Ordinal)))];
        }

        var opening = Event("content_block_start", blockStart);
        if (scenario.Thinking)
        {
            // Thinking deltas are chunks like the answer's: gaps and faults apply to them too. The last one closes the
            // thinking with its signature (and the redacted block) and opens the answer's block.
            opening = Event("content_block_start", """{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}""");
            var thinking = Answer.ThinkingChunks.Select(text => Event("content_block_delta",
                """{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":{text}}}"""
                    .Replace("{text}", Answer.Quote(text), StringComparison.Ordinal))).ToList();
            var handOver = SseEvent("content_block_delta", """{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"{signature}"}}"""
                    .Replace("{signature}", Answer.ThinkingSignature, StringComparison.Ordinal))
                + SseEvent("content_block_stop", """{"type":"content_block_stop","index":0}""");
            if (scenario.RedactedThinking)
            {
                handOver += SseEvent("content_block_start", """{"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"{data}"}}"""
                        .Replace("{data}", Answer.RedactedThinkingData, StringComparison.Ordinal))
                    + SseEvent("content_block_stop", """{"type":"content_block_stop","index":1}""");
            }

            thinking.Add(Make(handOver + SseEvent("content_block_start", blockStart.Replace("{index}", index, StringComparison.Ordinal)), model));
            chunks = [.. thinking, .. chunks];
        }

        var messageDelta = """{"type":"message_delta","delta":{"stop_reason":"{stop}","stop_sequence":null}{usage}}"""
            .Replace("{stop}", StopReason(scenario), StringComparison.Ordinal)
            .Replace("{usage}", scenario.Usage ? ",\"usage\":{\"output_tokens\":" + Answer.CompletionTokens(scenario).ToString(CultureInfo.InvariantCulture) + "}" : "", StringComparison.Ordinal);

        return new StreamedAnswer(
            Opening: [Event("message_start", messageStart), opening, Event("ping", """{"type":"ping"}""")],
            Chunks: chunks,
            Closing:
            [
                Event("content_block_stop", """{"type":"content_block_stop","index":{index}}"""),
                Event("message_delta", messageDelta),
                Event("message_stop", """{"type":"message_stop"}"""),
            ],
            Malformed: Template.Parse("event: content_block_delta\ndata: {\"broken\": \n\n"));

        Template Event(string name, string data) => Make(SseEvent(name, data.Replace("{index}", index, StringComparison.Ordinal)), model);

        static string SseEvent(string name, string data) => "event: " + name + "\ndata: " + data + "\n\n";
    }

    public override byte[] ErrorEvent(string message) =>
        [.. "event: error\ndata: "u8, .. ErrorBody(StatusCodes.Status500InternalServerError, message), .. "\n\n"u8];

    protected override void WriteError(Utf8JsonWriter writer, int status, string message)
    {
        var type = status switch
        {
            StatusCodes.Status400BadRequest => "invalid_request_error",
            StatusCodes.Status401Unauthorized => "authentication_error",
            StatusCodes.Status429TooManyRequests => "rate_limit_error",
            529 => "overloaded_error",
            _ => "api_error",
        };
        writer.WriteStartObject();
        writer.WriteString("type", "error");
        writer.WriteStartObject("error");
        writer.WriteString("type", type);
        writer.WriteString("message", message);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static string ThinkingBlocks(Scenario scenario)
    {
        var blocks = """{"type":"thinking","thinking":{text},"signature":"{signature}"}"""
            .Replace("{text}", Answer.Quote(Answer.ThinkingText), StringComparison.Ordinal)
            .Replace("{signature}", Answer.ThinkingSignature, StringComparison.Ordinal);
        return scenario.RedactedThinking
            ? blocks + """,{"type":"redacted_thinking","data":"{data}"}""".Replace("{data}", Answer.RedactedThinkingData, StringComparison.Ordinal)
            : blocks;
    }

    private static string StopReason(Scenario scenario) => scenario.ToolCall ? "tool_use" : "end_turn";

    private static string Usage(Scenario scenario, int outputTokens) =>
        """{"input_tokens":{input_tokens},"cache_creation_input_tokens":0,"cache_read_input_tokens":{cached},"output_tokens":{output}}"""
            .Replace("{cached}", scenario.CachedTokens.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{output}", outputTokens.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
}
