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
    /// <summary>A slice ends at the first word boundary past this many characters.</summary>
    private const int SliceChars = 1024;

    /// <summary>
    /// The longest stretch counted without a word boundary. The tokeniser's merging is quadratic in the length of
    /// one word: a megabyte with no space (one "word" of letters, a run of spaces, CJK text) would take minutes
    /// whole, and takes milliseconds cut into stretches this long. Such a cut may count a token more (rarely fewer) than whole.
    /// </summary>
    private const int MaxStretchChars = 128;

    // Loading the vocabulary takes a moment: do it once, on first use.
    private readonly Lazy<Tokenizer> _vocabulary = new(() => TiktokenTokenizer.CreateForModel("gpt-4o"));

    /// <summary>
    /// The tokens of <paramref name="text"/>, in time linear in its length: counted slice by slice, each slice ending
    /// where a word begins (so the count is the tokeniser's own), checking <paramref name="cancellationToken"/> between slices.
    /// </summary>
    public int Count(string? text, CancellationToken cancellationToken = default) => Count(text, int.MaxValue, cancellationToken);

    /// <summary>As <see cref="Count(string?, CancellationToken)"/>, but stops once past <paramref name="limit"/>: then the result is above it, not exact.</summary>
    public int Count(string? text, int limit, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(text))
        {
            return 0;
        }

        var vocabulary = _vocabulary.Value;
        long total = 0;
        for (var start = 0; start < text.Length && total <= limit;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var end = SliceEnd(text, start);
            total += vocabulary.CountTokens(text.AsSpan(start, end - start));
            start = end;
        }

        return (int)Math.Min(total, int.MaxValue);
    }

    /// <summary>
    /// How many characters of <paramref name="text"/> its first <paramref name="maxTokens"/> tokens cover (all of it
    /// when it has no more), in time linear in that many characters, not in the text's length.
    /// </summary>
    public int IndexOfTokenCount(string text, int maxTokens, CancellationToken cancellationToken)
    {
        var vocabulary = _vocabulary.Value;
        var left = maxTokens;
        for (var start = 0; start < text.Length;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var end = SliceEnd(text, start);
            var slice = text.AsSpan(start, end - start);
            var tokens = vocabulary.CountTokens(slice);
            if (tokens > left)
            {
                return left <= 0 ? start : start + vocabulary.GetIndexByTokenCount(slice, left, out _, out _);
            }

            left -= tokens;
            start = end;
        }

        return text.Length;
    }

    /// <summary>
    /// The prompt's tokens as OpenAI counts chat messages: text counted exactly (content, names, tool
    /// calls, tool and function definitions, response_format schemas, and a few per message); content
    /// that is not text (audio, files) by its bytes; images separately, as the model's image ceiling.
    /// Linear in the prompt's size, and cancellable.
    /// </summary>
    public PromptBound CountPrompt(JsonObject body, CancellationToken cancellationToken = default) => CountPrompt(body, int.MaxValue, cancellationToken);

    /// <summary>As <see cref="CountPrompt(JsonObject, CancellationToken)"/>, but stops once past <paramref name="limit"/> tokens: then the result is above it, not exact.</summary>
    public PromptBound CountPrompt(JsonObject body, int limit, CancellationToken cancellationToken) =>
        Measure(body, limit, (text, left) => Count(text, left, cancellationToken), (json, left) => Count(json.ToJsonString(), left, cancellationToken), cancellationToken);

    /// <summary>
    /// Where the slice of <paramref name="text"/> from <paramref name="start"/> ends. Cut before a space that follows a
    /// letter or digit, a new word begins: the tokeniser's own pre-split would cut there too, so counting the slices
    /// apart is counting the text whole. Where no such place comes for <see cref="MaxStretchChars"/>, the slice is cut
    /// anyway (never inside a surrogate pair).
    /// </summary>
    private static int SliceEnd(string text, int start)
    {
        var boundary = start; // the last place a word begins, or the slice's start
        for (var i = start + 1; i < text.Length; i++)
        {
            if (text[i] == ' ' && char.IsLetterOrDigit(text[i - 1]))
            {
                if (i - start >= SliceChars)
                {
                    return i;
                }

                boundary = i;
            }
            else if (i - boundary >= MaxStretchChars)
            {
                if (boundary > start)
                {
                    return boundary; // the long stretch starts the next slice
                }

                return char.IsLowSurrogate(text[i]) ? i - 1 : i;
            }
        }

        return text.Length;
    }

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
    public static PromptBound PromptUpperBound(JsonObject body) =>
        Measure(body, long.MaxValue, (text, _) => Utf8Bytes(text), (json, _) => JsonBytes(json), CancellationToken.None);

    /// <summary>Content parts an upstream bills as an image: a ceiling per image, whatever its size.</summary>
    internal static bool IsImage(string? partType) => partType is "image_url" or "input_image" or "image";

    /// <summary>Request fields outside <c>messages</c> that the model reads as part of the prompt.</summary>
    private static readonly string[] PromptFields = ["tools", "functions", "tool_choice", "function_call", "response_format"];

    /// <summary>
    /// Walks the prompt once, measuring text with <paramref name="measureText"/> and structures with <paramref name="measureJson"/>
    /// (each told how much of <paramref name="limit"/> is left), and stops once past the limit.
    /// </summary>
    private static PromptBound Measure(JsonObject body, long limit, Func<string, int, int> measureText, Func<JsonNode, int, int> measureJson,
        CancellationToken cancellationToken)
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

                if (total > limit)
                {
                    break;
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
                                        total += measureText(s, Left());
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
                            total += measureText(s, Left());
                            break;
                        default:
                            // tool_calls, function_call, audio references: structures the model reads as text.
                            total += measureJson(value, Left());
                            break;
                    }
                }
            }
        }

        foreach (var field in PromptFields)
        {
            if (body[field] is { } value)
            {
                total += measureJson(value, Left());
            }
        }

        return new PromptBound(total, images);

        int Left() => (int)Math.Clamp(limit - total, 0, int.MaxValue);
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
