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

    /// <summary>The prompt's tokens as OpenAI counts chat messages: content, names, tool calls, tool definitions, and a few per message.</summary>
    public int CountPrompt(JsonObject body, CancellationToken cancellationToken = default) => CountPrompt(body, int.MaxValue, cancellationToken);

    /// <summary>As <see cref="CountPrompt(JsonObject, CancellationToken)"/>, but stops once past <paramref name="limit"/>: then the result is above it, not exact.</summary>
    public int CountPrompt(JsonObject body, int limit, CancellationToken cancellationToken)
    {
        long total = 3; // every reply is primed with <|start|>assistant<|message|>
        if (body["messages"] is JsonArray messages)
        {
            foreach (var message in messages.OfType<JsonObject>())
            {
                total += 4 + Count(message["role"]?.GetValueKind() == System.Text.Json.JsonValueKind.String ? (string?)message["role"] : null, cancellationToken);
                total += Count(TextOf(message["content"]), Left(), cancellationToken);
                if (message["name"] is JsonValue name && name.TryGetValue<string>(out var n))
                {
                    total += Count(n, Left(), cancellationToken);
                }

                if (message["tool_calls"] is JsonArray calls)
                {
                    total += Count(calls.ToJsonString(), Left(), cancellationToken);
                }

                if (total > limit)
                {
                    return (int)Math.Min(total, int.MaxValue);
                }
            }
        }

        if (body["tools"] is JsonArray tools)
        {
            total += Count(tools.ToJsonString(), Left(), cancellationToken);
        }

        return (int)Math.Min(total, int.MaxValue);

        int Left() => (int)Math.Max(limit - total, 0);
    }

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
