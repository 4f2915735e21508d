using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Tollgate.Models;

namespace Tollgate.Providers.Demo;

/// <summary>
/// The built-in offline model: deterministic, no network. It echoes the last message after a
/// fixed preface; given tools, it calls the first one with arguments made from its schema, and
/// given a tool result, it reports it back — so a whole tool round trip can be tried offline.
/// Token counts are real (o200k_base), so the usage and the charge are honest. Like a real model it
/// refuses a prompt longer than its context window and stops at <c>max_tokens</c>, so the work an
/// answer costs is bounded whatever the prompt, and it stops when the client leaves.
/// </summary>
internal sealed class DemoProvider(TokenCounter tokens, TimeProvider time, IOptions<CatalogOptions> options) : IChatProvider, IEmbeddingProvider
{
    /// <summary>
    /// Deterministic unit vectors: each input's SHA-256 seeds its numbers, so the same text always gets the same vector.
    /// <c>dimensions</c> sets the length (<see cref="DemoSettings.EmbeddingDimensions"/> by default), and
    /// <c>encoding_format: base64</c> gives little-endian float32 bytes, as OpenAI's API does.
    /// </summary>
    public Task<JsonObject> EmbedAsync(ProviderRequest request, CancellationToken cancellationToken)
    {
        var body = request.Body;
        var inputs = body["input"] is JsonArray list ? list.Select(i => (string)i!).ToArray() : [(string)body["input"]!];
        var dimensions = body["dimensions"] is JsonValue d && d.TryGetValue<int>(out var n) ? n : DemoSettings.EmbeddingDimensions;
        var base64 = body["encoding_format"] is JsonValue f && f.TryGetValue<string>(out var format) && format == "base64";
        var data = new JsonArray();
        var promptTokens = 0;
        for (var i = 0; i < inputs.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            promptTokens += tokens.Count(inputs[i], cancellationToken);
            var vector = Vector(inputs[i], dimensions);
            JsonNode embedding = base64
                ? Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan()))
                : new JsonArray([.. vector.Select(x => (JsonNode)x)]);
            data.Add(new JsonObject { ["object"] = "embedding", ["index"] = i, ["embedding"] = embedding });
        }

        return Task.FromResult(new JsonObject
        {
            ["object"] = "list",
            ["data"] = data,
            ["model"] = request.Deployment.Model,
            ["usage"] = new JsonObject { ["prompt_tokens"] = promptTokens, ["total_tokens"] = promptTokens },
        });
    }

    private static float[] Vector(string text, int dimensions)
    {
        var seed = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text));
        var random = new Random(BitConverter.ToInt32(seed, 0) ^ BitConverter.ToInt32(seed, 4));
        var vector = new float[dimensions];
        double length = 0;
        for (var i = 0; i < dimensions; i++)
        {
            vector[i] = (float)(random.NextDouble() * 2 - 1);
            length += vector[i] * vector[i];
        }

        var scale = (float)(1 / Math.Sqrt(length));
        for (var i = 0; i < dimensions; i++)
        {
            vector[i] *= scale;
        }

        return vector;
    }

    public const string Preface = "Hello from Tollgate's offline demo model. You said:";

    public Task<JsonObject> CompleteAsync(ProviderRequest request, CancellationToken cancellationToken)
    {
        var answer = Answer(request, cancellationToken);
        var message = new JsonObject { ["role"] = "assistant", ["content"] = answer.Text };
        if (answer.ToolCall is { } call)
        {
            message["content"] = null;
            message["tool_calls"] = new JsonArray(call.DeepClone());
        }

        return Task.FromResult(new JsonObject
        {
            ["object"] = "chat.completion",
            ["created"] = time.GetUtcNow().ToUnixTimeSeconds(),
            ["model"] = request.Deployment.Model,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = message,
                ["finish_reason"] = answer.FinishReason,
            }),
            ["usage"] = Usage(answer),
        });
    }

    public Task<IAsyncEnumerable<JsonObject>> StreamAsync(ProviderRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(StreamWordsAsync(request, cancellationToken));

    private async IAsyncEnumerable<JsonObject> StreamWordsAsync(ProviderRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var answer = Answer(request, cancellationToken);
        var created = time.GetUtcNow().ToUnixTimeSeconds();
        var delay = options.Value.Demo.WordDelay;
        yield return Chunk(request, created, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null);
        if (answer.ToolCall is { } call)
        {
            // Name first, then the arguments in two pieces, as real upstreams stream them.
            var arguments = (string)call["function"]!["arguments"]!;
            var half = arguments.Length / 2;
            yield return Chunk(request, created, ToolDelta(call["id"]!.GetValue<string>(), call["function"]!["name"]!.GetValue<string>(), arguments[..half]), null);
            yield return Chunk(request, created, ToolDelta(null, null, arguments[half..]), null);
        }
        else
        {
            var words = answer.Text!.Split(' ');
            for (var i = 0; i < words.Length; i++)
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, time, cancellationToken);
                }

                yield return Chunk(request, created, new JsonObject { ["content"] = i == 0 ? words[i] : " " + words[i] }, null);
            }
        }

        yield return Chunk(request, created, new JsonObject(), answer.FinishReason);
        var usage = Chunk(request, created, null, null);
        usage["choices"] = new JsonArray();
        usage["usage"] = Usage(answer);
        yield return usage;
    }

    private static JsonObject ToolDelta(string? id, string? name, string arguments)
    {
        var function = new JsonObject();
        if (name is not null)
        {
            function["name"] = name;
        }

        function["arguments"] = arguments;
        var call = new JsonObject { ["index"] = 0 };
        if (id is not null)
        {
            call["id"] = id;
            call["type"] = "function";
        }

        call["function"] = function;
        return new JsonObject { ["tool_calls"] = new JsonArray(call) };
    }

    private static JsonObject Chunk(ProviderRequest request, long created, JsonObject? delta, string? finishReason) => new()
    {
        ["object"] = "chat.completion.chunk",
        ["created"] = created,
        ["model"] = request.Deployment.Model,
        ["choices"] = delta is null ? null : new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["delta"] = delta,
            ["finish_reason"] = finishReason,
        }),
    };

    private static JsonObject Usage(DemoAnswer answer) => new()
    {
        ["prompt_tokens"] = answer.PromptTokens,
        ["completion_tokens"] = answer.CompletionTokens,
        ["total_tokens"] = answer.PromptTokens + answer.CompletionTokens,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = 0 },
    };

    private sealed record DemoAnswer(string? Text, JsonObject? ToolCall, string FinishReason, int PromptTokens, int CompletionTokens);

    private DemoAnswer Answer(ProviderRequest request, CancellationToken cancellationToken)
    {
        var body = request.Body;
        var context = request.Model.ContextLength;
        var prompt = tokens.CountPrompt(body, context, cancellationToken);
        if (prompt.Tokens > context)
        {
            // Counting stopped at the window: the work is bounded by it, not by the prompt.
            throw new UpstreamException(StatusCodes.Status400BadRequest,
                $"This model's maximum context length is {context} tokens, and the prompt is longer", retryable: false);
        }

        var promptTokens = (int)prompt.Tokens;
        var maxTokens = Math.Min(MaxTokens(body) ?? int.MaxValue, request.MaxTokens); // within both caps sent, and the one reserved
        var last = (body["messages"] as JsonArray)?.LastOrDefault() as JsonObject;
        var role = last?["role"] is JsonValue r && r.TryGetValue<string>(out var rv) ? rv : "user";
        var lastText = TokenCounter.TextOf(last?["content"]).Trim();

        if (role == "tool")
        {
            return Text($"The tool returned: {(lastText.Length == 0 ? "(nothing)" : lastText)}");
        }

        if (body["tools"] is JsonArray { Count: > 0 } tools && !IsToolChoiceNone(body) && (tools[0] as JsonObject)?["function"] is JsonObject function
            && ToolCall(function, lastText) is { } call)
        {
            return call;
        }

        return Text($"{Preface} {(lastText.Length == 0 ? "(nothing)" : lastText)}");

        DemoAnswer Text(string text)
        {
            // Cut at max_tokens, after the last word that fits, as a real model stops at its limit.
            var words = string.Join(' ', text.Split(' ', StringSplitOptions.RemoveEmptyEntries));
            for (var budget = maxTokens; ; )
            {
                var end = tokens.IndexOfTokenCount(words, Math.Max(budget, 0), cancellationToken);
                var space = end >= words.Length ? words.Length : words.LastIndexOf(' ', end);
                var answer = space > 0 ? words[..space] : FirstWord(words); // the first word is always said
                var completionTokens = tokens.Count(answer, cancellationToken);
                if (completionTokens <= maxTokens || space <= 0)
                {
                    return new DemoAnswer(answer, null, answer.Length < words.Length ? "length" : "stop", promptTokens, completionTokens);
                }

                // The words counted apart came to more than in place (rare): try again with fewer.
                budget -= completionTokens - maxTokens;
            }
        }

        // The first tool, called with the user's text in its arguments: as much of the text as fits max_tokens.
        DemoAnswer? ToolCall(JsonObject function, string text)
        {
            var name = function["name"] is JsonValue named && named.TryGetValue<string>(out var given) ? given : "tool";
            var schema = function["parameters"] as JsonObject;
            var id = "call_demo_" + Math.Abs(StableHash(name + text) % 1_000_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var bare = tokens.Count(name + ArgumentsFor(schema, "", out var copies).ToJsonString(), cancellationToken);
            if (bare > maxTokens)
            {
                return null; // not even a call without the text fits: answer in text instead
            }

            var slots = Math.Max(copies, 1);
            for (var budget = (maxTokens - bare) / slots; ; )
            {
                text = text[..tokens.IndexOfTokenCount(text, Math.Max(budget, 0), cancellationToken)];
                var arguments = ArgumentsFor(schema, text, out _).ToJsonString();
                var completionTokens = tokens.Count(name + arguments, cancellationToken);
                if (completionTokens <= maxTokens || text.Length == 0)
                {
                    var call = new JsonObject
                    {
                        ["id"] = id,
                        ["type"] = "function",
                        ["function"] = new JsonObject { ["name"] = name, ["arguments"] = arguments },
                    };
                    return new DemoAnswer(null, call, "tool_calls", promptTokens, completionTokens);
                }

                // Escaping made the text longer in the arguments than alone: keep less of it.
                budget -= Math.Max((completionTokens - maxTokens + slots - 1) / slots, 1);
            }
        }
    }

    private static string FirstWord(string words) => words.IndexOf(' ', StringComparison.Ordinal) is > 0 and var space ? words[..space] : words;

    private static bool IsToolChoiceNone(JsonObject body) =>
        body["tool_choice"] is JsonValue choice && choice.TryGetValue<string>(out var value) && value == "none";

    /// <summary>The smaller of <c>max_completion_tokens</c> and <c>max_tokens</c> when both are sent: the answer stays within either.</summary>
    private static int? MaxTokens(JsonObject body)
    {
        int? max = null;
        foreach (var name in new[] { "max_completion_tokens", "max_tokens" })
        {
            if (body[name] is JsonValue value && value.TryGetValue<int>(out var number))
            {
                max = Math.Min(max ?? number, number);
            }
        }

        return max;
    }

    /// <summary>Arguments that satisfy the schema's properties: strings get the user's text (<paramref name="copies"/> times), numbers 1, booleans true.</summary>
    private static JsonObject ArgumentsFor(JsonObject? schema, string text, out int copies)
    {
        var arguments = new JsonObject();
        copies = 0;
        if (schema?["properties"] is not JsonObject properties)
        {
            arguments["input"] = text;
            copies = 1;
            return arguments;
        }

        foreach (var (name, property) in properties)
        {
            var type = (property as JsonObject)?["type"] is JsonValue t && t.TryGetValue<string>(out var tv) ? tv : "string";
            arguments[name] = type switch
            {
                "integer" or "number" => 1,
                "boolean" => true,
                "array" => new JsonArray(),
                "object" => new JsonObject(),
                _ => (property as JsonObject)?["enum"] is JsonArray { Count: > 0 } options ? options[0]?.DeepClone() : null,
            };
            if (arguments[name] is null)
            {
                arguments[name] = text;
                copies++;
            }
        }

        return arguments;
    }

    private static long StableHash(string value)
    {
        var hash = 1469598103934665603L;
        foreach (var c in value)
        {
            hash = (hash ^ c) * 1099511628211L;
        }

        return hash;
    }
}
