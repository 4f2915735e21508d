using Tollgate.ApiKeys;

namespace Tollgate.Tests.ApiKeys;

public sealed class ModelAllowListTests
{
    [Theory]
    [InlineData(null, "openai/gpt-4o", true)]
    [InlineData("*", "openai/gpt-4o", true)]
    [InlineData("anthropic/*", "anthropic/claude-sonnet-4-6", true)]
    [InlineData("anthropic/*", "openai/gpt-4o", false)]
    [InlineData("anthropic/*", "anthropicx/model", false)]
    [InlineData("openai/gpt-4o", "openai/gpt-4o", true)]
    [InlineData("openai/gpt-4o", "OpenAI/GPT-4o", true)]
    [InlineData("openai/gpt-4o", "openai/gpt-4o-mini", false)]
    public void IsAllowed_Pattern_MatchesAsDocumented(string? pattern, string model, bool allowed) =>
        Assert.Equal(allowed, ModelAllowList.IsAllowed(pattern is null ? null : [pattern], model));

    [Theory]
    [InlineData(new[] { "anthropic/*" }, new[] { "anthropic/claude-sonnet-4-6" }, true)]
    [InlineData(new[] { "anthropic/*" }, new[] { "anthropic/*" }, true)]
    [InlineData(new[] { "anthropic/claude-sonnet-4-6" }, new[] { "anthropic/*" }, false)]
    [InlineData(new[] { "anthropic/*" }, new[] { "*" }, false)]
    [InlineData(new[] { "*" }, new[] { "*" }, true)]
    [InlineData(new[] { "anthropic/*" }, new[] { "openai/gpt-4o" }, false)]
    [InlineData(new[] { "anthropic/*" }, new[] { "anthropic/claude/*" }, true)]
    [InlineData(new[] { "anthropic/claude/*" }, new[] { "anthropic/*" }, false)]
    [InlineData(new[] { "Anthropic/*" }, new[] { "anthropic/claude-sonnet-4-6", "ANTHROPIC/x" }, true)]
    [InlineData(new[] { "openai/*" }, new[] { "openai/gpt-4o", "*" }, false)]
    public void Covers_RequestedWithinHeld_OnlyWhenNoWider(string[] held, string[] requested, bool covered) =>
        Assert.Equal(covered, ModelAllowList.Covers(held, requested));

    [Fact]
    public void Covers_HeldIsAll_CoversEverythingIncludingAll() =>
        Assert.True(ModelAllowList.Covers(null, null));

    [Fact]
    public void Covers_HeldStarIsEveryModel_CoversNull() =>
        Assert.True(ModelAllowList.Covers(["*"], null));

    [Fact]
    public void Covers_HeldIsListAndRequestedIsAll_IsNotCovered() =>
        Assert.False(ModelAllowList.Covers(["openai/*"], null));

    [Theory]
    [InlineData("openai/gpt-4o", true)]
    [InlineData("anthropic/*", true)]
    [InlineData("*", true)]
    [InlineData("gpt-4o", false)]
    [InlineData("openai/", false)]
    [InlineData("/gpt", false)]
    [InlineData("open*/gpt", false)]
    [InlineData("openai/gpt*", false)]
    [InlineData("openai/gpt 4o", false)]
    [InlineData("", false)]
    public void Validate_Entry_AcceptsIdsAndProviderPatternsOnly(string entry, bool valid) =>
        Assert.Equal(valid, ModelAllowList.Validate(entry) is null);
}
