using System.Buffers.Binary;
using System.Buffers.Text;
using System.IO.Hashing;
using System.Text;

namespace Tollgate.Usage;

/// <summary>
/// The opaque cursor of the recent-calls list: base64url of a version byte, the position's <c>created_at</c>
/// (Unix ms), its generation id and a CRC-32 of them. The checksum catches a cursor that was cut, edited or
/// made up, so that it is a 400 rather than a page from some other place; it is no secret, and needs none: a
/// position only ever selects among the caller's own calls.
/// </summary>
internal static class UsageCursor
{
    /// <summary>The longest cursor <see cref="TryDecode"/> reads, in characters (a generation id of up to 200 bytes fits).</summary>
    public const int MaxLength = 300;

    private const byte Version = 1;
    private const int MaxIdBytes = 200;
    private const int Fixed = 1 + sizeof(long);

    public static string Encode(UsageCallPosition position)
    {
        var idBytes = Encoding.UTF8.GetByteCount(position.GenerationId);
        if (idBytes is 0 or > MaxIdBytes)
        {
            throw new ArgumentException("A generation id is 1 to 200 bytes", nameof(position));
        }

        Span<byte> payload = stackalloc byte[Fixed + idBytes + sizeof(uint)];
        payload[0] = Version;
        BinaryPrimitives.WriteInt64BigEndian(payload[1..], position.CreatedAtMs);
        Encoding.UTF8.GetBytes(position.GenerationId, payload[Fixed..]);
        BinaryPrimitives.WriteUInt32BigEndian(payload[^sizeof(uint)..], Crc32.HashToUInt32(payload[..^sizeof(uint)]));
        return Base64Url.EncodeToString(payload);
    }

    /// <summary>False for anything <see cref="Encode"/> did not make: wrong alphabet, length, version or checksum.</summary>
    public static bool TryDecode(string? cursor, out UsageCallPosition position)
    {
        position = default;
        if (string.IsNullOrEmpty(cursor) || cursor.Length > MaxLength || !Base64Url.IsValid(cursor, out var length) ||
            length is < Fixed + 1 + sizeof(uint) or > Fixed + MaxIdBytes + sizeof(uint))
        {
            return false;
        }

        Span<byte> payload = stackalloc byte[length];
        if (Base64Url.DecodeFromChars(cursor, payload) != length || payload[0] != Version ||
            BinaryPrimitives.ReadUInt32BigEndian(payload[^sizeof(uint)..]) != Crc32.HashToUInt32(payload[..^sizeof(uint)]))
        {
            return false;
        }

        var createdAt = BinaryPrimitives.ReadInt64BigEndian(payload[1..]);
        if (createdAt is < 0 or > 253_402_300_799_999) // within 1970 to 9999, as times are stored
        {
            return false;
        }

        string id;
        try
        {
            id = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(payload[Fixed..^sizeof(uint)]);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        // The same characters an encoded position can have: one encoded again gives back the same cursor.
        if (!string.Equals(Encode(new UsageCallPosition(createdAt, id)), cursor, StringComparison.Ordinal))
        {
            return false;
        }

        position = new UsageCallPosition(createdAt, id);
        return true;
    }
}
