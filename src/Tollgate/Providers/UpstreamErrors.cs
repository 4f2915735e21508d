using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Tollgate.Providers;

/// <summary>Turns what goes wrong upstream into <see cref="UpstreamException"/> with SPEC section 2's status codes.</summary>
internal static class UpstreamErrors
{
    /// <summary>A non-2xx answer: its status mapped, its body kept (1 KiB, secrets removed) as <c>raw</c>.</summary>
    public static async Task<UpstreamException> FromResponseAsync(HttpResponseMessage response, string providerName, UpstreamRedactor redactor,
        CancellationToken cancellationToken)
    {
        var raw = await ReadRawAsync(response, redactor, cancellationToken);
        var status = (int)response.StatusCode;
        var upstreamMessage = MessageOf(raw, redactor);
        var (mapped, retryable) = status switch
        {
            400 or 422 => (400, false),
            401 or 403 => (502, false),
            404 => (502, false),
            408 => (408, true),
            413 => (413, false),
            429 => (429, true),
            503 or 529 => (503, true),
            >= 500 => (502, true),
            _ => (502, false),
        };
        var message = mapped switch
        {
            400 => $"The upstream rejected the request: {upstreamMessage ?? "no reason given"}",
            413 => "The upstream says the request is too large",
            429 => $"{providerName} is rate limiting requests; try again shortly",
            408 => $"{providerName} did not answer in time",
            _ => status is 401 or 403
                ? $"{providerName} refused Tollgate's credentials (HTTP {status}); check the provider's ApiKey setting"
                : $"{providerName} failed (HTTP {status}){(upstreamMessage is null ? "" : ": " + upstreamMessage)}",
        };
        return new UpstreamException(mapped, message, retryable, raw);
    }

    /// <summary>A failure to reach the upstream or a broken connection.</summary>
    public static UpstreamException FromTransport(Exception exception, string providerName) => exception switch
    {
        HttpRequestException { InnerException: SocketException } or HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError } =>
            new UpstreamException(503, $"{providerName} could not be reached", retryable: true, inner: exception),
        _ => new UpstreamException(502, "Upstream connection lost", retryable: true, inner: exception),
    };

    /// <summary>The body with anything credential-like removed, then truncated to 1 KiB.</summary>
    public static async Task<string?> ReadRawAsync(HttpResponseMessage response, UpstreamRedactor redactor, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[redactor.WindowBytes];
            var read = 0;
            int n;
            while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken)) > 0)
            {
                read += n;
            }

            return redactor.Raw(buffer.AsSpan(0, read));
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException)
        {
            return null;
        }
    }

    private static string? MessageOf(string? raw, UpstreamRedactor redactor)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(raw);
            var root = document.RootElement;
            // OpenAI: {"error":{"message":...}}; Anthropic: {"type":"error","error":{"message":...}}; others: {"message":...}
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
                {
                    return Truncate(message.GetString()!);
                }

                if (error.ValueKind == JsonValueKind.String)
                {
                    return Truncate(error.GetString()!);
                }
            }

            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("message", out var plain) && plain.ValueKind == JsonValueKind.String)
            {
                return Truncate(plain.GetString()!);
            }
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException)
        {
            // Not JSON, or text that is not valid Unicode (a lone surrogate escape): no message to show.
        }

        return null;

        string Truncate(string text)
        {
            // Redacted before it is cut: JSON escapes undone by parsing may have spelled a secret out again.
            text = redactor.Redact(text);
            return text.Length <= 300 ? text : text[..(char.IsHighSurrogate(text[299]) ? 299 : 300)] + "...";
        }
    }
}
