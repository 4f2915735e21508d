using System.Buffers;
using System.Text.Json;

namespace Tollgate.FakeUpstream.Serving;

/// <summary>
/// The few fields of a chat request the fake needs, read in one pass with <see cref="Utf8JsonReader"/>.
/// Works for both formats: OpenAI and Anthropic share <c>model</c>, <c>messages</c>, <c>stream</c>.
/// </summary>
internal readonly record struct ParsedRequest(
    string? Model,
    bool HasMessages,
    bool Stream,
    bool IncludeUsage,
    bool HasMaxTokens,
    int PromptWords,
    string? SyntaxError,
    bool ThinkingEnabled = false,
    string? ThinkingError = null)
{
    /// <summary>
    /// Reads the body. <see cref="PromptWords"/> counts whitespace-separated words in every
    /// <c>content</c> and <c>text</c> string under <c>messages</c> and <c>system</c>.
    /// </summary>
    public static ParsedRequest Parse(ReadOnlySequence<byte> body)
    {
        string? model = null;
        bool hasMessages = false, stream = false, includeUsage = false, hasMaxTokens = false, sawThinking = false;
        var words = 0;
        var reader = new Utf8JsonReader(body);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Invalid("The request body must be a JSON object.");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("model"u8))
                {
                    reader.Read();
                    model = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else if (reader.ValueTextEquals("messages"u8))
                {
                    reader.Read();
                    hasMessages = reader.TokenType == JsonTokenType.StartArray;
                    words += CountWords(ref reader);
                }
                else if (reader.ValueTextEquals("system"u8))
                {
                    reader.Read();
                    words += CountWords(ref reader);
                }
                else if (reader.ValueTextEquals("stream"u8))
                {
                    reader.Read();
                    stream = reader.TokenType == JsonTokenType.True;
                }
                else if (reader.ValueTextEquals("stream_options"u8))
                {
                    reader.Read();
                    includeUsage = ReadIncludeUsage(ref reader);
                }
                else if (reader.ValueTextEquals("thinking"u8))
                {
                    sawThinking = true;
                    reader.Read();
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("max_tokens"u8))
                {
                    reader.Read();
                    hasMaxTokens = reader.TokenType == JsonTokenType.Number;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            // Anything after the closing brace makes the body invalid JSON.
            if (reader.Read())
            {
                return Invalid("The request body must be a single JSON object.");
            }
        }
        catch (JsonException)
        {
            return Invalid("The request body is not valid JSON.");
        }

        // Thinking has rules a one-pass read cannot check; only requests that ask for it pay for a second read.
        var (thinking, thinkingError) = sawThinking ? ThinkingRules.Check(body) : (false, null);
        return new ParsedRequest(model, hasMessages, stream, includeUsage, hasMaxTokens, words, SyntaxError: null, thinking, thinkingError);
    }

    /// <summary>A body that is not a readable JSON object.</summary>
    private static ParsedRequest Invalid(string error) => new(null, false, false, false, false, 0, error);

    private static bool ReadIncludeUsage(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return false;
        }

        var includeUsage = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isIncludeUsage = reader.ValueTextEquals("include_usage"u8);
            reader.Read();
            includeUsage |= isIncludeUsage && reader.TokenType == JsonTokenType.True;
            reader.Skip();
        }

        return includeUsage;
    }

    /// <summary>Counts words of the value at the reader (a string, or any nesting of objects and arrays) and moves past it.</summary>
    private static int CountWords(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return CountWordsOfString(ref reader);
        }

        if (reader.TokenType is not (JsonTokenType.StartArray or JsonTokenType.StartObject))
        {
            return 0;
        }

        var depth = reader.CurrentDepth;
        var words = 0;
        var countNextString = false;
        while (reader.Read() && reader.CurrentDepth > depth)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    countNextString = reader.ValueTextEquals("content"u8) || reader.ValueTextEquals("text"u8);
                    break;
                case JsonTokenType.String:
                    if (countNextString)
                    {
                        words += CountWordsOfString(ref reader);
                    }

                    countNextString = false;
                    break;
                default:
                    break;
            }
        }

        return words;
    }

    private static int CountWordsOfString(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped || reader.HasValueSequence)
        {
            return CountWords(reader.GetString().AsSpan());
        }

        var words = 0;
        var inWord = false;
        foreach (var b in reader.ValueSpan)
        {
            var isSpace = b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r';
            words += !isSpace && !inWord ? 1 : 0;
            inWord = !isSpace;
        }

        return words;
    }

    private static int CountWords(ReadOnlySpan<char> text)
    {
        var words = 0;
        var inWord = false;
        foreach (var c in text)
        {
            var isSpace = char.IsWhiteSpace(c);
            words += !isSpace && !inWord ? 1 : 0;
            inWord = !isSpace;
        }

        return words;
    }
}
