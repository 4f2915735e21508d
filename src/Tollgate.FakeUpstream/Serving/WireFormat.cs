using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;

namespace Tollgate.FakeUpstream.Serving;

/// <summary>A streamed answer, pre-serialised: opening events, one event per content chunk, closing events.</summary>
internal sealed record StreamedAnswer(Template[] Opening, Template[] Chunks, Template[] Closing, Template Malformed);

/// <summary>What differs between the OpenAI and the Anthropic endpoint: credentials, validation, bodies.</summary>
internal abstract class WireFormat
{
    public static WireFormat OpenAi { get; } = new OpenAiFormat();

    public static WireFormat Anthropic { get; } = new AnthropicFormat();

    private readonly ConcurrentDictionary<int, byte[]> _faultBodies = new();

    /// <summary>The 401 message when the request lacks the format's credentials, else null.</summary>
    public virtual string? RejectCredentials(HttpRequest request) => null;

    /// <summary>The 400 message when a required field is missing, else null.</summary>
    public abstract string? Validate(in ParsedRequest request);

    public abstract Template BuildJson(Scenario scenario, string model);

    public abstract StreamedAnswer BuildSse(Scenario scenario, string model, bool includeUsage);

    /// <summary>The body of an error answer in this format.</summary>
    public byte[] ErrorBody(int status, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteError(writer, status, message);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The (cached) body of a simulated failure.</summary>
    public byte[] FaultBody(int status) =>
        _faultBodies.GetOrAdd(status, static (status, format) => format.ErrorBody(status, FaultMessage(status)), this);

    /// <summary>An error event in a stream (the end of it), with a 500's error body.</summary>
    public virtual byte[] ErrorEvent(string message) =>
        [.. "data: "u8, .. ErrorBody(StatusCodes.Status500InternalServerError, message), .. "\n\n"u8];

    protected abstract void WriteError(Utf8JsonWriter writer, int status, string message);

    /// <summary>Fills the hole names and the model (last, so that nothing inside it is replaced).</summary>
    protected static Template Make(string text, string model) => Template.Parse(text
        .Replace("{seq}", Holes.Sequence, StringComparison.Ordinal)
        .Replace("{created}", Holes.Created, StringComparison.Ordinal)
        .Replace("{prompt_tokens}", Holes.PromptTokens, StringComparison.Ordinal)
        .Replace("{total_tokens}", Holes.TotalTokens, StringComparison.Ordinal)
        .Replace("{input_tokens}", Holes.InputTokens, StringComparison.Ordinal)
        .Replace("{model}", Answer.Quote(model), StringComparison.Ordinal));

    internal static string FaultMessage(int status) => status switch
    {
        StatusCodes.Status400BadRequest => "The request is invalid (simulated by the fake upstream).",
        StatusCodes.Status429TooManyRequests => "Rate limit reached; retry after 1 s (simulated by the fake upstream).",
        529 => "The upstream is overloaded (simulated by the fake upstream).",
        _ => "The server had an error while processing your request (simulated by the fake upstream).",
    };
}

/// <summary>Pre-serialised answers per format, scenario (by value), model and stream options.</summary>
internal sealed class AnswerCache
{
    // Model names come from requests; a bound keeps a client that invents names from growing memory.
    private const int MaxEntries = 512;

    private readonly ConcurrentDictionary<Key, Template> _json = new();
    private readonly ConcurrentDictionary<Key, StreamedAnswer> _sse = new();

    public Template Json(WireFormat format, Scenario scenario, string model) =>
        GetOrAdd(_json, new Key(format, scenario, model, IncludeUsage: false), static k => k.Format.BuildJson(k.Scenario, k.Model));

    public StreamedAnswer Sse(WireFormat format, Scenario scenario, string model, bool includeUsage) =>
        GetOrAdd(_sse, new Key(format, scenario, model, includeUsage), static k => k.Format.BuildSse(k.Scenario, k.Model, k.IncludeUsage));

    private static T GetOrAdd<T>(ConcurrentDictionary<Key, T> cache, Key key, Func<Key, T> build)
    {
        if (cache.TryGetValue(key, out var answer))
        {
            return answer;
        }

        if (cache.Count >= MaxEntries)
        {
            cache.Clear();
        }

        return cache.GetOrAdd(key, build);
    }

    private readonly record struct Key(WireFormat Format, Scenario Scenario, string Model, bool IncludeUsage);
}
