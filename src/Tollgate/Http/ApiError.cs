using System.Text.Encodings.Web;
using System.Text.Json;

namespace Tollgate.Http;

/// <summary>
/// Writes the error envelope of SPEC section 2:
/// <c>{"error":{"code":401,"message":"...","metadata":{...}}}</c>. Written with
/// <see cref="Utf8JsonWriter"/> so the byte layout is fixed (clients and tests compare bytes).
/// </summary>
internal static class ApiError
{
    public const string InvalidKeyMessage = "Invalid API key";
    // Plain \" rather than \u0022 in messages: the bodies are compared byte for byte.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public const string MissingKeyMessage = "Missing API key: send it as \"Authorization: Bearer YOUR_API_KEY\"";

    /// <summary>Writes an error response unless the response has already started.</summary>
    public static Task WriteAsync(
        HttpContext context,
        int statusCode,
        string message,
        IEnumerable<KeyValuePair<string, object?>>? metadata = null,
        bool includeRequestId = true,
        IEnumerable<KeyValuePair<string, object?>>? errorFields = null)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return Task.CompletedTask;
        }

        response.StatusCode = statusCode;
        response.ContentType = "application/json";
        var body = Gateway.Messages.MessagesErrors.Applies(context)
            ? SerializeAnthropic(statusCode, message, RequestId.Get(context))
            : Serialize(statusCode, message, metadata, includeRequestId ? RequestId.Get(context) : null, errorFields);
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body).AsTask();
    }

    /// <summary>
    /// Anthropic's error shape, for the Messages API: <c>{"type":"error","error":{"type":"not_found_error","message":"..."},"request_id":"..."}</c>.
    /// </summary>
    public static byte[] SerializeAnthropic(int statusCode, string message, string? requestId)
    {
        using var buffer = new MemoryStream(128);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "error");
            writer.WriteStartObject("error");
            writer.WriteString("type", Gateway.Messages.MessagesErrors.TypeFor(statusCode));
            writer.WriteString("message", message);
            writer.WriteEndObject();
            writer.WriteString("request_id", requestId);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>The envelope as bytes; <paramref name="requestId"/> goes into metadata when given.</summary>
    public static byte[] Serialize(int statusCode, string message, IEnumerable<KeyValuePair<string, object?>>? metadata, string? requestId,
        IEnumerable<KeyValuePair<string, object?>>? errorFields = null)
    {
        using var buffer = new MemoryStream(128);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("error");
            writer.WriteNumber("code", statusCode);
            writer.WriteString("message", message);
            foreach (var (name, value) in errorFields ?? [])
            {
                writer.WritePropertyName(name);
                WriteValue(writer, value);
            }

            writer.WriteStartObject("metadata");
            if (metadata is not null)
            {
                foreach (var (name, value) in metadata)
                {
                    writer.WritePropertyName(name);
                    WriteValue(writer, value);
                }
            }

            if (requestId is not null)
            {
                writer.WriteString("request_id", requestId);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNullValue(); break;
            case string s: writer.WriteStringValue(s); break;
            case bool b: writer.WriteBooleanValue(b); break;
            case int i: writer.WriteNumberValue(i); break;
            case long l: writer.WriteNumberValue(l); break;
            case decimal d: writer.WriteNumberValue(d); break;
            default: writer.WriteStringValue(value.ToString()); break;
        }
    }
}
