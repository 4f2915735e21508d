using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;

namespace Tollgate.Http;

/// <summary>
/// Reads JSON request bodies, the one way every JSON endpoint does: the bytes are checked by
/// <see cref="JsonBodyValidator"/> (valid JSON and Unicode, bounded depth, no duplicate keys) before
/// they are parsed, so bad input is a 400 naming the field. Fields are read with errors that name
/// the field (<c>name must be a string</c>, <c>param: name</c>). Unknown fields are ignored.
/// </summary>
internal static class JsonRequest
{
    private const int MaxDepth = 32;
    private const long InitialBufferBound = 256 * 1024;
    private static readonly byte[] ByteOrderMark = [0xEF, 0xBB, 0xBF];

    /// <summary>The body as a JSON object; an absent body reads as <c>{}</c> when <paramref name="optional"/>.</summary>
    public static async Task<JsonDocument> ReadObjectAsync(HttpRequest request, bool optional, CancellationToken cancellationToken)
    {
        var canHaveBody = request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? true;
        if (request.ContentLength == 0 || !canHaveBody)
        {
            return optional ? JsonDocument.Parse("{}") : throw ApiException.BadRequest("The request body must be a JSON object");
        }

        var document = await ReadAsync(request, MaxDepth, static utf8 =>
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = MaxDepth });
            return JsonDocument.ParseValue(ref reader);
        }, cancellationToken);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw ApiException.BadRequest("The request body must be a JSON object");
        }

        return document;
    }

    /// <summary>The body as a JSON node (null for the JSON literal <c>null</c>), for bodies passed on as they came.</summary>
    public static Task<JsonNode?> ReadNodeAsync(HttpRequest request, int maxDepth, CancellationToken cancellationToken) =>
        ReadAsync(request, maxDepth, utf8 => JsonNode.Parse(utf8, documentOptions: new JsonDocumentOptions { MaxDepth = maxDepth }), cancellationToken);

    /// <summary>
    /// Reads the whole body into one pooled buffer (Kestrel enforces the size limit), checks it, and parses it with
    /// <paramref name="parse"/>, which copies what it keeps.
    /// </summary>
    private static async Task<T> ReadAsync<T>(HttpRequest request, int maxDepth, ReadOnlySpanFunc<T> parse, CancellationToken cancellationToken)
    {
        // Sized for what was declared, up to a bound: a client that declares 8 MB and sends nothing holds little.
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Clamp((request.ContentLength ?? 0) + 1, 4 * 1024, InitialBufferBound));
        try
        {
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(buffer.Length * 2L, Array.MaxLength));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            var utf8 = buffer.AsSpan(0, length);
            if (utf8.StartsWith(ByteOrderMark))
            {
                utf8 = utf8[ByteOrderMark.Length..];
            }

            JsonBodyValidator.Validate(utf8, maxDepth, cancellationToken);
            return parse(utf8);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private delegate T ReadOnlySpanFunc<out T>(ReadOnlySpan<byte> utf8);

    /// <summary>The field when present (null included), for PATCH-style "absent means unchanged".</summary>
    public static bool Has(this JsonElement body, string name, out JsonElement value) => body.TryGetProperty(name, out value);

    public static string ReadString(this JsonElement value, string name, int maxLength)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            throw ApiException.BadRequest($"{name} must be a string", name);
        }

        var text = value.GetString()!;
        return text.Length <= maxLength ? text : throw ApiException.BadRequest($"{name} must be at most {maxLength} characters", name);
    }

    public static string? ReadNullableString(this JsonElement value, string name, int maxLength) =>
        value.ValueKind == JsonValueKind.Null ? null : value.ReadString(name, maxLength);

    public static bool ReadBoolean(this JsonElement value, string name) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw ApiException.BadRequest($"{name} must be true or false", name),
    };

    public static decimal? ReadNullableDecimal(this JsonElement value, string name, decimal min, decimal max)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDecimal(out var number))
        {
            throw ApiException.BadRequest($"{name} must be a number or null", name);
        }

        return number >= min && number <= max
            ? number
            : throw ApiException.BadRequest($"{name} must be between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}", name);
    }

    public static int? ReadNullableInt(this JsonElement value, string name, int min, int max)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var number))
        {
            throw ApiException.BadRequest($"{name} must be a whole number or null", name);
        }

        return number >= min && number <= max
            ? number
            : throw ApiException.BadRequest($"{name} must be between {min} and {max}", name);
    }

    public static IReadOnlyList<string> ReadStringArray(this JsonElement value, string name, int maxItems, int maxItemLength)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw ApiException.BadRequest($"{name} must be an array of strings", name);
        }

        if (value.GetArrayLength() > maxItems)
        {
            throw ApiException.BadRequest($"{name} must have at most {maxItems} entries", name);
        }

        var items = new List<string>(value.GetArrayLength());
        foreach (var item in value.EnumerateArray())
        {
            items.Add(item.ValueKind == JsonValueKind.String
                ? item.ReadString(name + " entries", maxItemLength)
                : throw ApiException.BadRequest($"{name} must be an array of strings", name));
        }

        return items;
    }

    /// <summary>An ISO 8601 time with an offset or <c>Z</c>, or null.</summary>
    public static DateTimeOffset? ReadNullableTime(this JsonElement value, string name)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var text = value.ValueKind == JsonValueKind.String ? value.GetString()! : null;
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
            ? time
            : throw ApiException.BadRequest($"{name} must be an ISO 8601 time such as 2027-01-31T00:00:00Z, or null", name);
    }
}
