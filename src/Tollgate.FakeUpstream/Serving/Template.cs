using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Tollgate.FakeUpstream.Serving;

/// <summary>The per-request numbers of an answer; everything else is pre-serialised.</summary>
internal enum Hole : byte
{
    Sequence = 1,
    Created,
    PromptTokens,
    TotalTokens,
    InputTokens,
}

/// <summary>The values that fill a <see cref="Template"/>'s holes for one request.</summary>
/// <param name="Sequence">A number unique to the request, used in ids.</param>
/// <param name="Created">Unix seconds.</param>
/// <param name="PromptTokens">All input tokens, cached ones included (OpenAI <c>prompt_tokens</c>).</param>
/// <param name="TotalTokens">Prompt plus completion tokens.</param>
/// <param name="InputTokens">Input tokens not read from cache (Anthropic <c>input_tokens</c>).</param>
internal readonly record struct ResponseNumbers(long Sequence, long Created, int PromptTokens, int TotalTokens, int InputTokens)
{
    public long this[Hole hole] => hole switch
    {
        Hole.Sequence => Sequence,
        Hole.Created => Created,
        Hole.PromptTokens => PromptTokens,
        Hole.TotalTokens => TotalTokens,
        Hole.InputTokens => InputTokens,
        _ => throw new ArgumentOutOfRangeException(nameof(hole)),
    };
}

/// <summary>
/// A piece of response (a JSON body or one SSE event) serialised once into UTF-8 bytes, with holes
/// for the few numbers that change per request. Writing it is a few memory copies.
/// </summary>
/// <remarks>
/// Holes are written into the template text as the control characters U+0001 to U+0005 (the
/// <see cref="Holes"/> constants). JSON escapes every control character inside strings, so text
/// from a request (a model name) can never be mistaken for a hole.
/// </remarks>
internal sealed class Template
{
    private readonly byte[][] _literals;
    private readonly Hole[] _holes;
    private readonly int _literalLength;

    private Template(byte[][] literals, Hole[] holes)
    {
        _literals = literals;
        _holes = holes;
        _literalLength = literals.Sum(l => l.Length);
    }

    public static Template Parse(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var literals = new List<byte[]>();
        var holes = new List<Hole>();
        var start = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] is >= (byte)Hole.Sequence and <= (byte)Hole.InputTokens)
            {
                literals.Add(bytes[start..i]);
                holes.Add((Hole)bytes[i]);
                start = i + 1;
            }
        }

        literals.Add(start == 0 ? bytes : bytes[start..]);
        return new Template([.. literals], [.. holes]);
    }

    /// <summary>The exact number of bytes <see cref="WriteTo"/> writes for these numbers.</summary>
    public int LengthFor(in ResponseNumbers numbers)
    {
        var length = _literalLength;
        foreach (var hole in _holes)
        {
            length += CountDigits(numbers[hole]);
        }

        return length;
    }

    public void WriteTo(IBufferWriter<byte> writer, in ResponseNumbers numbers)
    {
        writer.Write(_literals[0]);
        for (var i = 0; i < _holes.Length; i++)
        {
            var span = writer.GetSpan(20);
            Utf8Formatter.TryFormat(numbers[_holes[i]], span, out var written);
            writer.Advance(written);
            writer.Write(_literals[i + 1]);
        }
    }

    private static int CountDigits(long value)
    {
        var digits = value < 0 ? 2 : 1;
        while (value is >= 10 or <= -10)
        {
            value /= 10;
            digits++;
        }

        return digits;
    }
}

/// <summary>The hole markers to write inside template text.</summary>
internal static class Holes
{
    public const string Sequence = "\u0001";
    public const string Created = "\u0002";
    public const string PromptTokens = "\u0003";
    public const string TotalTokens = "\u0004";
    public const string InputTokens = "\u0005";
}
