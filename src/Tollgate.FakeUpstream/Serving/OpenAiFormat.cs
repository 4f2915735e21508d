using System.Globalization;
using System.Text.Json;

namespace Tollgate.FakeUpstream.Serving;

/// <summary>
/// OpenAI Chat Completions: a <c>chat.completion</c> JSON body, or <c>data: {chat.completion.chunk}</c>
/// events ending with <c>data: [DONE]</c>. With <c>stream_options.include_usage</c>, every chunk carries
/// <c>"usage":null</c> and a last chunk with <c>"choices":[]</c> and the usage precedes <c>[DONE]</c>.
/// </summary>
internal sealed class OpenAiFormat : WireFormat
{
    private const string ToolCallId = "call_fake_get_weather";

    private const string ChunkEvent =
        """data: {"id":"chatcmpl-fake-{seq}","object":"chat.completion.chunk","created":{created},"model":{model},"system_fingerprint":"fp_fake","choices":[{choice}]{usage}}""" + "\n\n";

    public override string? Validate(in ParsedRequest request) =>
        request.Model is null ? "you must provide a model parameter"
        : !request.HasMessages ? "Missing required parameter: 'messages'."
        : null;

    public override Template BuildJson(Scenario scenario, string model)
    {
        var message = scenario.ToolCall
            ? """{"role":"assistant","content":null,"tool_calls":[{"id":"{id}","type":"function","function":{"name":"{name}","arguments":{arguments}}}],"refusal":null,"annotations":[]}"""
                .Replace("{id}", ToolCallId, StringComparison.Ordinal)
                .Replace("{name}", Answer.ToolName, StringComparison.Ordinal)
                .Replace("{arguments}", Answer.Quote(Answer.ToolArguments), StringComparison.Ordinal)
            : """{"role":"assistant","content":{content},"refusal":null,"annotations":[]}"""
                .Replace("{content}", Answer.Quote(string.Concat(Answer.TextChunks(scenario))), StringComparison.Ordinal);
        if (scenario.Thinking)
        {
            // vLLM's and DeepSeek's field for the model's reasoning.
            message = message.Replace("""{"role":"assistant",""", """{"role":"assistant","reasoning_content":""" + Answer.Quote(Answer.ThinkingText) + ",", StringComparison.Ordinal);
        }

        var body = """{"id":"chatcmpl-fake-{seq}","object":"chat.completion","created":{created},"model":{model},"choices":[{"index":0,"message":{message},"logprobs":null,"finish_reason":"{finish}"}],"service_tier":"default","system_fingerprint":"fp_fake"{usage}}"""
            .Replace("{message}", message, StringComparison.Ordinal)
            .Replace("{finish}", FinishReason(scenario), StringComparison.Ordinal)
            .Replace("{usage}", scenario.Usage ? ",\"usage\":" + Usage(scenario) : "", StringComparison.Ordinal);
        return Make(body, model);
    }

    public override StreamedAnswer BuildSse(Scenario scenario, string model, bool includeUsage)
    {
        includeUsage &= scenario.Usage;
        Template Chunk(string choice, string usage = ",\"usage\":null") => Make(ChunkEvent
            .Replace("{choice}", choice, StringComparison.Ordinal)
            .Replace("{usage}", includeUsage ? usage : "", StringComparison.Ordinal), model);

        string opening;
        Template[] chunks;
        if (scenario.ToolCall)
        {
            opening = """{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"{id}","type":"function","function":{"name":"{name}","arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}"""
                .Replace("{id}", ToolCallId, StringComparison.Ordinal)
                .Replace("{name}", Answer.ToolName, StringComparison.Ordinal);
            chunks = [.. Answer.ToolArgumentParts.Select(part => Chunk(
                """{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":{part}}}]},"logprobs":null,"finish_reason":null}"""
                    .Replace("{part}", Answer.Quote(part), StringComparison.Ordinal)))];
        }
        else
        {
            opening = """{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}""";
            chunks = [.. Answer.TextChunks(scenario).Select(text => Chunk(
                """{"index":0,"delta":{"content":{text}},"logprobs":null,"finish_reason":null}"""
                    .Replace("{text}", Answer.Quote(text), StringComparison.Ordinal)))];
        }

        if (scenario.Thinking)
        {
            chunks = [.. Answer.ThinkingChunks.Select(text => Chunk(
                """{"index":0,"delta":{"reasoning_content":{text}},"logprobs":null,"finish_reason":null}"""
                    .Replace("{text}", Answer.Quote(text), StringComparison.Ordinal))), .. chunks];
        }

        var finish = """{"index":0,"delta":{},"logprobs":null,"finish_reason":"{finish}"}"""
            .Replace("{finish}", FinishReason(scenario), StringComparison.Ordinal);
        List<Template> closing = [Chunk(finish)];
        if (includeUsage)
        {
            // The usage chunk: no choices, the usage of the whole request.
            closing.Add(Make(ChunkEvent
                .Replace("{choice}", "", StringComparison.Ordinal)
                .Replace("{usage}", ",\"usage\":" + Usage(scenario), StringComparison.Ordinal), model));
        }

        closing.Add(Template.Parse("data: [DONE]\n\n"));
        return new StreamedAnswer([Chunk(opening)], chunks, [.. closing], Template.Parse("data: {\"broken\": \n\n"));
    }

    protected override void WriteError(Utf8JsonWriter writer, int status, string message)
    {
        var (type, code) = status switch
        {
            StatusCodes.Status400BadRequest => ("invalid_request_error", null),
            StatusCodes.Status401Unauthorized => ("invalid_request_error", "invalid_api_key"),
            StatusCodes.Status429TooManyRequests => ("requests", "rate_limit_exceeded"),
            _ => ("server_error", (string?)null),
        };
        writer.WriteStartObject();
        writer.WriteStartObject("error");
        writer.WriteString("message", message);
        writer.WriteString("type", type);
        writer.WriteNull("param");
        writer.WriteString("code", code);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static string FinishReason(Scenario scenario) => scenario.ToolCall ? "tool_calls" : "stop";

    private static string Usage(Scenario scenario) =>
        """{"prompt_tokens":{prompt_tokens},"completion_tokens":{completion},"total_tokens":{total_tokens},"prompt_tokens_details":{"cached_tokens":{cached},"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":{reasoning},"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}"""
            .Replace("{completion}", Answer.CompletionTokens(scenario).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{cached}", scenario.CachedTokens.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{reasoning}", (scenario.Thinking ? Answer.ThinkingChunks.Count : 0).ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
}
