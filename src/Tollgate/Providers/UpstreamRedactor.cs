using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Tollgate.Models;

namespace Tollgate.Providers;

/// <summary>
/// Removes credentials from upstream text before it reaches a client (<c>metadata.raw</c>, error
/// messages, mid-stream error events) or a log: the configured <c>ApiKey</c> of every provider, not
/// only the one called (as sent, JSON-escaped or URL-encoded), and anything shaped like a key or a
/// bearer token. Text is redacted whole and only then cut to <see cref="MaxRawBytes"/>, so a secret
/// that straddles the cut cannot leave its first half behind.
/// </summary>
internal sealed partial class UpstreamRedactor
{
    /// <summary>How much of an upstream's error body a client sees (SPEC section 2: <c>raw</c>, 1 KiB).</summary>
    public const int MaxRawBytes = 1024;

    private const string Redacted = "[redacted]";

    // Longest first, so that a secret containing another is removed whole.
    private readonly string[] _secrets;

    public UpstreamRedactor(IOptions<CatalogOptions> options)
    {
        _secrets = options.Value.Providers.Values
            .Select(p => p.ApiKey)
            .Where(key => !string.IsNullOrEmpty(key))
            .SelectMany(key => new[]
            {
                key!,
                JsonEncodedText.Encode(key!).Value,
                JsonEncodedText.Encode(key!, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value,
                Uri.EscapeDataString(key!),
            })
            .Distinct(StringComparer.Ordinal)
            .OrderByDescending(secret => secret.Length)
            .ToArray();
        var longest = _secrets.Length == 0 ? 0 : _secrets.Max(Encoding.UTF8.GetByteCount);

        // Past the cut, enough to finish any secret (or key-shaped token) that starts before it.
        WindowBytes = MaxRawBytes + Math.Max(longest, 256);
    }

    /// <summary>How many bytes of upstream text to read so that redacting and then cutting to <see cref="MaxRawBytes"/> is safe.</summary>
    public int WindowBytes { get; }

    /// <summary>The text with every configured secret and every key-shaped token replaced by <c>[redacted]</c>.</summary>
    public string Redact(string text)
    {
        foreach (var secret in _secrets)
        {
            text = text.Replace(secret, Redacted, StringComparison.Ordinal);
        }

        return CredentialLike().Replace(text, Redacted);
    }

    /// <summary>Upstream bytes as <c>raw</c> for a client: decoded, redacted, then cut to <see cref="MaxRawBytes"/>.</summary>
    public string Raw(ReadOnlySpan<byte> utf8) => Raw(Encoding.UTF8.GetString(utf8.Length <= WindowBytes ? utf8 : utf8[..WindowBytes]));

    /// <summary>Upstream text as <c>raw</c> for a client: redacted, then cut to <see cref="MaxRawBytes"/> of UTF-8.</summary>
    public string Raw(string text) => Cut(Redact(text), MaxRawBytes);

    /// <summary>The longest start of <paramref name="text"/> that fits <paramref name="maxBytes"/> of UTF-8, never splitting a character.</summary>
    private static string Cut(string text, int maxBytes)
    {
        if (text.Length * 3 <= maxBytes || Encoding.UTF8.GetByteCount(text) <= maxBytes)
        {
            return text;
        }

        var bytes = 0;
        var i = 0;
        while (i < text.Length)
        {
            var pair = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]);
            var size = pair ? 4 : text[i] < 0x80 ? 1 : text[i] < 0x800 ? 2 : 3;
            if (bytes + size > maxBytes)
            {
                break;
            }

            bytes += size;
            i += pair ? 2 : 1;
        }

        return text[..i];
    }

    [GeneratedRegex(@"(sk-[A-Za-z0-9_\-]{8,}|Bearer\s+[A-Za-z0-9._~+/=\-]{8,}|x-api-key[""':\s]+[A-Za-z0-9._~+/=\-]{8,})", RegexOptions.IgnoreCase)]
    private static partial Regex CredentialLike();
}
