using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;
using Tollgate.Models;

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

    /// <summary>
    /// The prompt's tokens as OpenAI counts chat messages: text counted exactly (content, names, tool
    /// calls, tool and function definitions, response_format schemas, and a few per message); content
    /// that is not text (audio, files) by its bytes; images separately, as the model's image ceiling.
    /// </summary>
    public PromptBound CountPrompt(JsonObject body, CancellationToken cancellationToken = default) =>
        Measure(body, Count, json => Count(json.ToJsonString()), cancellationToken);

    /// <summary>
    /// Never below <see cref="CountPrompt"/>, nor below what any upstream counts for the same prompt,
    /// for a fraction of the cost: every token of every vocabulary covers at least one UTF-8 byte, so the
    /// bytes of the text and of the JSON structures the model reads (tool calls, tool, function and
    /// response_format schemas) bound its tokens from above; content that is not text counts its bytes
    /// (base64 audio and files encode far more bytes than the tokens they cost), and each image counts as
    /// the model's <see cref="ModelDefinition.MaxImageTokens"/>, the most an upstream bills for one image
    /// whatever its size. A long prompt costs milliseconds to tokenise and microseconds to measure; the
    /// reservation uses this bound and counts exactly only when the bound does not fit the credits left.
    /// </summary>
    public static PromptBound PromptUpperBound(JsonObject body) => Measure(body, Utf8Bytes, JsonBytes, CancellationToken.None);

    /// <summary>Content parts an upstream bills as an image: a ceiling per image, whatever its size.</summary>
    internal static bool IsImage(string? partType) => partType is "image_url" or "input_image" or "image";

    /// <summary>Request fields outside <c>messages</c> that the model reads as part of the prompt.</summary>
    private static readonly string[] PromptFields = ["tools", "functions", "tool_choice", "function_call", "response_format"];

    private static PromptBound Measure(JsonObject body, Func<string, int> text, Func<JsonNode, int> json, CancellationToken cancellationToken)
    {
        long total = 3; // every reply is primed with <|start|>assistant<|message|>
        var images = 0;
        if (body["messages"] is JsonArray messages)
        {
            foreach (var node in messages)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (node is not JsonObject message)
                {
                    total += node is null ? 0 : JsonBytes(node);
                    continue;
                }

                total += 4;
                foreach (var (name, value) in message)
                {
                    switch (value)
                    {
                        case null:
                            break;
                        case JsonArray parts when name == "content":
                            total += parts.Count; // the newlines the text parts are joined with
                            foreach (var part in parts)
                            {
                                if (part is JsonObject p && p["type"] is JsonValue type && type.TryGetValue<string>(out var kind))
                                {
                                    if (kind == "text" && p["text"] is JsonValue t && t.TryGetValue<string>(out var s))
                                    {
                                        total += text(s);
                                        continue;
                                    }

                                    if (IsImage(kind))
                                    {
                                        images++;
                                        continue;
                                    }
                                }

                                // Audio, files and whatever else: their bytes, which bound what any upstream makes of them.
                                total += part is null ? 0 : JsonBytes(part);
                            }

                            break;
                        case JsonValue v when v.TryGetValue<string>(out var s):
                            total += text(s);
                            break;
                        default:
                            // tool_calls, function_call, audio references: structures the model reads as text.
                            total += json(value);
                            break;
                    }
                }
            }
        }

        foreach (var field in PromptFields)
        {
            if (body[field] is { } value)
            {
                total += json(value);
            }
        }

        return new PromptBound(total, images);
    }

    private static int Utf8Bytes(string text) => System.Text.Encoding.UTF8.GetByteCount(text);

    private static int JsonBytes(JsonNode node) => JsonSerializer.SerializeToUtf8Bytes(node, OpenAi.ProviderJsonContext.Default.JsonNode).Length;

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

/// <summary>
/// A prompt's size: <see cref="Tokens"/> for its text, structures and non-text content, plus
/// <see cref="Images"/>, each costing at most the model's image ceiling.
/// </summary>
internal readonly record struct PromptBound(long Tokens, int Images)
{
    /// <summary>The prompt tokens on <paramref name="model"/>, its images at their ceiling.</summary>
    public long For(ModelDefinition model) => Tokens + (long)Images * model.MaxImageTokens;
}
