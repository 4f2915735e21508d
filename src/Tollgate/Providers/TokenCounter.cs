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
