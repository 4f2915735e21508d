using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text;
using Tollgate.ApiKeys;

namespace Tollgate.Tests.ApiKeys;

public sealed class ApiKeySecretTests
{
    [Fact]
    public void Generate_NewKey_HasPrefixBase62BodyAndLength58()
    {
        var key = ApiKeySecret.Generate();

        Assert.StartsWith("sk-tg-v1-", key, StringComparison.Ordinal);
        Assert.Equal(58, key.Length);
        Assert.All(key[9..], c => Assert.True(char.IsAsciiLetterOrDigit(c), $"'{c}' is not base62"));
        Assert.True(ApiKeySecret.IsWellFormed(key));
    }

    [Fact]
    public void Generate_ChecksumIsCrc32OfEverythingBefore_InSixBase62Digits()
    {
        var key = ApiKeySecret.Generate();

        var crc = Crc32.HashToUInt32(Encoding.ASCII.GetBytes(key[..52]));
        const string alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        var expected = new char[6];
        for (var i = 5; i >= 0; i--)
        {
            expected[i] = alphabet[(int)(crc % 62)];
            crc /= 62;
        }

        Assert.Equal(new string(expected), key[52..]);
    }

    [Fact]
    public void Generate_ManyKeys_AreDistinctAndUseTheWholeAlphabet()
    {
        var keys = Enumerable.Range(0, 2000).Select(_ => ApiKeySecret.Generate()).ToArray();

        Assert.Equal(keys.Length, keys.Distinct(StringComparer.Ordinal).Count());
        var used = keys.SelectMany(k => k[9..52]).Distinct().Count();
        Assert.Equal(62, used);
    }

    [Fact]
    public void IsWellFormed_AnySingleCharacterChanged_IsRejected()
    {
        var key = ApiKeySecret.Generate();

        for (var i = 9; i < key.Length; i++)
        {
            var chars = key.ToCharArray();
            chars[i] = chars[i] == 'a' ? 'b' : 'a';
            Assert.False(ApiKeySecret.IsWellFormed(new string(chars)), $"a change at {i} was accepted");
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("sk-tg-v1-")]
    [InlineData("garbage")]
    [InlineData("sk-or-v1-0123456789012345678901234567890123456789012345678")]
    [InlineData("sk-tg-v2-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("sk-tg-v1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-AAAAA")]
    [InlineData("sk-tg-v1-ÄAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void IsWellFormed_NotTheFormat_IsRejected(string candidate) =>
        Assert.False(ApiKeySecret.IsWellFormed(candidate));

    [Fact]
    public void IsWellFormed_KeyWithTrailingCharacter_IsRejected() =>
        Assert.False(ApiKeySecret.IsWellFormed(ApiKeySecret.Generate() + "x"));

    [Fact]
    public void Hash_IsLowerHexSha256OfTheWholeKey()
    {
        var key = ApiKeySecret.Generate();

        var expected = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(key)));

        Assert.Equal(expected, ApiKeySecret.Hash(key));
    }

    [Fact]
    public void Label_ShowsPrefixFirstThreeAndLastFourOfTheBody()
    {
        var key = ApiKeySecret.Generate();

        Assert.Equal($"sk-tg-v1-{key[9..12]}...{key[^4..]}", ApiKeySecret.Label(key));
    }
}
