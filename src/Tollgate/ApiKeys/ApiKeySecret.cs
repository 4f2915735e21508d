using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text;

namespace Tollgate.ApiKeys;

/// <summary>
/// The key format of SPEC section 1: <c>sk-tg-v1-</c> + 43 base62 characters (256 bits from a
/// CSPRNG) + 6 base62 characters of CRC32 over everything before them. The checksum lets a
/// typo or a forged key be refused without touching storage; the fixed prefix lets secret
/// scanners find leaked keys. Only the SHA-256 of the whole key is ever stored.
/// </summary>
internal static class ApiKeySecret
{
    public const string Prefix = "sk-tg-v1-";
    public const int RandomLength = 43;
    public const int ChecksumLength = 6;
    public const int Length = 58; // Prefix (9) + RandomLength + ChecksumLength

    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary>A new secret. 43 characters drawn uniformly from 62 carry 256 bits of entropy.</summary>
    public static string Generate()
    {
        Span<char> key = stackalloc char[Length];
        Prefix.AsSpan().CopyTo(key);
        RandomNumberGenerator.GetItems(Alphabet, key.Slice(Prefix.Length, RandomLength));
        WriteChecksum(key[..^ChecksumLength], key[^ChecksumLength..]);
        return new string(key);
    }

    /// <summary>True when <paramref name="key"/> has the format and a matching checksum.</summary>
    public static bool IsWellFormed(ReadOnlySpan<char> key)
    {
        if (key.Length != Length || !key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in key[Prefix.Length..])
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        Span<char> expected = stackalloc char[ChecksumLength];
        WriteChecksum(key[..^ChecksumLength], expected);
        return expected.SequenceEqual(key[^ChecksumLength..]);
    }

    /// <summary>Lower-case hex SHA-256 of the whole key: what storage holds and looks up by.</summary>
    public static string Hash(ReadOnlySpan<char> key)
    {
        Span<byte> ascii = stackalloc byte[Length];
        var written = Encoding.ASCII.GetBytes(key, ascii);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(ascii[..written], digest);
        return Convert.ToHexStringLower(digest);
    }

    /// <summary>The display label: prefix, the first 3 and the last 4 characters of the body.</summary>
    public static string Label(string key) => $"{Prefix}{key.AsSpan(Prefix.Length, 3)}...{key.AsSpan(key.Length - 4)}";

    private static void WriteChecksum(ReadOnlySpan<char> payload, Span<char> destination)
    {
        Span<byte> ascii = stackalloc byte[payload.Length];
        Encoding.ASCII.GetBytes(payload, ascii);
        var crc = Crc32.HashToUInt32(ascii);
        for (var i = ChecksumLength - 1; i >= 0; i--)
        {
            destination[i] = Alphabet[(int)(crc % 62)];
            crc /= 62;
        }
    }
}
