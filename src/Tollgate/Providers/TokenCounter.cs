using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;

namespace Tollgate.Providers;

/// <summary>
/// Counts tokens with the o200k_base vocabulary (GPT-4o's) for when an upstream reports no usage,
/// and for the demo model. For other model families the count is an estimate, and usage built
/// from it is marked as estimated.
/// </summary>
internal sealed class TokenCounter
{
    // Loading the vocabulary takes a moment: do it once, on first use.
    private readonly Lazy<Tokenizer> _vocabulary = new(() => TiktokenTokenizer.CreateForModel("gpt-4o"));

    public int Count(string? text) => string.IsNullOrEmpty(text) ? 0 : _vocabulary.Value.CountTokens(text);

    /// <summary>The prompt's tokens as OpenAI counts chat messages: content, names, tool calls, tool definitions, and a few per message.</summary>
    public int CountPrompt(JsonObject body)
    {
        var total = 3; // every reply is primed with <|start|>assistant<|message|>
        if (body["messages"] is JsonArray messages)
        {
            foreach (var message in messages.OfType<JsonObject>())
            {
                total += 4 + Count(message["role"]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? (string?)message["role"] : null);
                total += Count(TextOf(message["content"]));
                if (message["name"] is JsonValue name && name.TryGetValue<string>(out var n))
                {
                    total += Count(n);
                }

                if (message["tool_calls"] is JsonArray calls)
                {
                    total += Count(calls.ToJsonString());
                }
            }
        }

        if (body["tools"] is JsonArray tools)
        {
            total += Count(tools.ToJsonString());
        }

        return total;
    }

    /// <summary>
    /// At least <see cref="CountPrompt"/>, for a fraction of its cost: every token covers at least one
    /// UTF-8 byte, so bytes bound tokens from above. A long prompt costs milliseconds to tokenise and
    /// microseconds to measure; the reservation uses this bound and counts exactly only when the
    /// bound does not fit the credits left.
    /// </summary>
    public static int PromptUpperBound(JsonObject body)
    {
        long total = 3;
        if (body["messages"] is JsonArray messages)
        {
            foreach (var node in messages)
            {
                if (node is not JsonObject message)
                {
                    continue;
                }

                total += 4 + Bytes(message["role"]) + ContentBytes(message["content"]) + Bytes(message["name"]);
                if (message["tool_calls"] is JsonArray calls)
                {
                    total += JsonBytes(calls);
                }
            }
        }

        if (body["tools"] is JsonArray tools)
        {
            total += JsonBytes(tools);
        }

        return (int)Math.Min(total, int.MaxValue);

        static long Bytes(JsonNode? node) =>
            node is JsonValue value && value.TryGetValue<string>(out var text) ? System.Text.Encoding.UTF8.GetByteCount(text) : 0;

        static long ContentBytes(JsonNode? content)
        {
            if (content is not JsonArray parts)
            {
                return Bytes(content);
            }

            long bytes = parts.Count; // the newlines TextOf joins the parts with
            foreach (var part in parts)
            {
                if (part is JsonObject p && p["type"] is JsonValue type && type.TryGetValue<string>(out var t) && t == "text")
                {
                    bytes += Bytes(p["text"]);
                }
            }

            return bytes;
        }

        static long JsonBytes(JsonNode node) => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(node, OpenAi.ProviderJsonContext.Default.JsonNode).Length;
    }

    /// <summary>The text of a message's content: a string, or the text parts of an array.</summary>
    public static string TextOf(JsonNode? content) => content switch
    {
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        JsonArray parts => string.Join("\n", parts.OfType<JsonObject>()
            .Where(p => p["type"] is JsonValue type && type.TryGetValue<string>(out var t) && t == "text")
            .Select(p => p["text"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : "")),
        _ => "",
    };
}
