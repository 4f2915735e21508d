using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tollgate.Providers;

/// <summary>Turns what goes wrong upstream into <see cref="UpstreamException"/> with SPEC section 2's status codes.</summary>
internal static partial class UpstreamErrors
{
    private const int MaxRawBytes = 1024;

    /// <summary>A non-2xx answer: its status mapped, its body kept (1 KiB, secrets removed) as <c>raw</c>.</summary>
    public static async Task<UpstreamException> FromResponseAsync(HttpResponseMessage response, string providerName, CancellationToken cancellationToken)
    {
        var raw = await ReadRawAsync(response, cancellationToken);
        var status = (int)response.StatusCode;
        var upstreamMessage = MessageOf(raw);
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

    /// <summary>The body truncated to 1 KiB with anything credential-like removed.</summary>
    public static async Task<string?> ReadRawAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var buffer = new byte[MaxRawBytes];
            var read = 0;
            int n;
            while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken)) > 0)
            {
                read += n;
            }

            return Redact(Encoding.UTF8.GetString(buffer, 0, read));
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>Removes things shaped like API keys and bearer tokens from upstream text.</summary>
    public static string Redact(string text) => CredentialLike().Replace(text, "[redacted]");

    private static string? MessageOf(string? raw)
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
        catch (JsonException)
        {
        }

        return null;
    }

    private static string Truncate(string text) => Redact(text.Length <= 300 ? text : text[..300] + "...");

    [GeneratedRegex(@"(sk-[A-Za-z0-9_\-]{8,}|Bearer\s+[A-Za-z0-9._\-]{8,}|x-api-key[""':\s]+[A-Za-z0-9._\-]{8,})", RegexOptions.IgnoreCase)]
    private static partial Regex CredentialLike();
}
