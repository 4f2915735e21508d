using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// How a real upstream bills a chat request, at its worst, so that a test can hold Tollgate's
/// reservation against it: every byte of text a token, every image its ceiling, audio and files by
/// their bytes, <c>n</c> answers each as long as the cap sent (and, when none is sent, the upstream's
/// own far larger default), the priority tier at twice the price.
/// </summary>
internal static class UpstreamAnswers
{
    /// <summary>What an upstream writes when the request names no completion cap: far above any catalogue cap.</summary>
    public const int UpstreamDefaultCap = 100_000;

    public static (int Prompt, int Completion) WorstCaseUsage(JsonObject body, int imageCeiling)
    {
        long prompt = 3;
        foreach (var message in (body["messages"] as JsonArray ?? []).OfType<JsonObject>())
        {
            prompt += 4;
            foreach (var (name, value) in message)
            {
                prompt += name == "content" && value is JsonArray parts ? Parts(parts, imageCeiling) : Bytes(value);
            }
        }

        foreach (var field in new[] { "tools", "functions", "tool_choice", "function_call", "response_format" })
        {
            prompt += Bytes(body[field]);
        }

        // Sent both, an upstream may honour either: the larger.
        var cap = Math.Max(Int(body["max_completion_tokens"]) ?? 0, Int(body["max_tokens"]) ?? 0) is > 0 and var sent ? sent : UpstreamDefaultCap;
        var n = Int(body["n"]) ?? 1;
        return ((int)prompt, n * cap);
    }

    private static long Parts(JsonArray parts, int imageCeiling)
    {
        long total = 0;
        foreach (var part in parts.OfType<JsonObject>())
        {
            switch ((string?)part["type"])
            {
                case "text":
                    total += Bytes(part["text"]);
                    break;
                case "image_url":
                    // By size: a data URL's bytes, up to the ceiling; a remote image of unknown size, the ceiling.
                    var url = (string?)part["image_url"]?["url"] ?? "";
                    total += url.StartsWith("data:", StringComparison.Ordinal) ? Math.Min(imageCeiling, 85 + url.Length / 4) : imageCeiling;
                    break;
                default:
                    total += Bytes(part);
                    break;
            }
        }

        return total;
    }

    private static long Bytes(JsonNode? node) => node switch
    {
        null => 0,
        JsonValue v when v.TryGetValue<string>(out var s) => System.Text.Encoding.UTF8.GetByteCount(s),
        _ => System.Text.Encoding.UTF8.GetByteCount(node.ToJsonString()),
    };

    private static int? Int(JsonNode? node) => node is JsonValue v && v.TryGetValue<int>(out var n) ? n : null;

    /// <summary>An OpenAI answer (JSON or SSE) with <c>n</c> choices and the worst-case usage.</summary>
    public static Task OpenAiAsync(HttpContext context, JsonObject body, int imageCeiling = HostileFixture.ImageCeiling)
    {
        var (prompt, completion) = WorstCaseUsage(body, imageCeiling);
        var n = Int(body["n"]) ?? 1;
        var usage = $$"""{"prompt_tokens":{{prompt}},"completion_tokens":{{completion}},"total_tokens":{{prompt + completion}}}""";
        if (body["stream"] is JsonValue s && s.TryGetValue<bool>(out var stream) && stream)
        {
            var events = new List<string>();
            for (var i = 0; i < n; i++)
            {
                var index = i.ToString(CultureInfo.InvariantCulture);
                events.Add($$"""data: {"id":"u","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":{{index}},"delta":{"role":"assistant","content":""},"finish_reason":null}]}""");
                events.Add($$"""data: {"id":"u","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":{{index}},"delta":{"content":"answer {{index}}"},"finish_reason":"length"}]}""");
            }

            events.Add($$"""data: {"id":"u","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{{usage}}}""");
            events.Add("data: [DONE]");
            return HostileUpstream.WriteEventsAsync(context, events);
        }

        var choices = string.Join(",", Enumerable.Range(0, n).Select(i =>
            $$"""{"index":{{i}},"message":{"role":"assistant","content":"answer {{i}}"},"finish_reason":"length"}"""));
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync($$"""{"id":"u","object":"chat.completion","created":1,"model":"m","choices":[{{choices}}],"usage":{{usage}}}""");
    }
}
