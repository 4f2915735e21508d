using System.Security.Cryptography;

namespace Tollgate.Storage;

/// <summary>Opaque ids with a readable prefix (<c>key_...</c>, <c>acc_...</c>).</summary>
internal static class Ids
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static string New(string prefix) => prefix + "_" + RandomNumberGenerator.GetString(Alphabet, 20);

    /// <summary>A generation id, <c>gen-...</c>, as OpenRouter-style clients expect.</summary>
    public static string Generation() => "gen-" + RandomNumberGenerator.GetString(Alphabet, 24);
}
