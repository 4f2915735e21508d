using System.Collections.Concurrent;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Tollgate.Accounts;

/// <summary>
/// Sign-in with e-mail and password, guarded two ways: attempts per client IP address are rate limited
/// (<see cref="SignInOptions.AttemptsPerIpPerMinute"/>), and an e-mail address with
/// <see cref="SignInOptions.LockoutThreshold"/> failures in a row is locked for <see cref="SignInOptions.LockoutDuration"/>.
/// Failures are counted per address whether or not an account has it, so no answer tells whether one does.
/// </summary>
internal sealed partial class PasswordSignIn(
    AccountService accounts,
    ISignInFailureStore failures,
    TimeProvider time,
    IOptions<SignInOptions> options,
    ILogger<PasswordSignIn> logger) : IDisposable
{
    private readonly PartitionedRateLimiter<IPAddress> _perIp = PartitionedRateLimiter.Create<IPAddress, IPAddress>(ip =>
        RateLimitPartition.GetTokenBucketLimiter(ip, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.Value.AttemptsPerIpPerMinute,
            TokensPerPeriod = options.Value.AttemptsPerIpPerMinute,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));

    internal enum Outcome
    {
        Success,
        Invalid,
        LockedOut,
        RateLimited,
        Disabled,
    }

    internal sealed record Result(Outcome Outcome, Account? Account = null, DateTimeOffset? LockedUntil = null);

    public async Task<Result> SignInAsync(string? email, string? password, IPAddress? ip, CancellationToken cancellationToken)
    {
        using var lease = _perIp.AttemptAcquire(ip ?? IPAddress.None);
        if (!lease.IsAcquired)
        {
            Log.RateLimited(logger);
            return new Result(Outcome.RateLimited);
        }

        email = (email ?? "").Trim();
        password ??= "";
        if (email.Length is 0 or > 254 || password.Length == 0)
        {
            return new Result(Outcome.Invalid);
        }

        var settings = options.Value;
        var now = time.GetUtcNow();
        if (await failures.LockedUntilAsync(email, now, cancellationToken) is { } locked)
        {
            return new Result(Outcome.LockedOut, LockedUntil: locked);
        }

        var account = await accounts.FindByEmailAsync(email, cancellationToken);
        if (account is null || !await accounts.VerifyPasswordAsync(account, password, cancellationToken))
        {
            var until = await failures.RecordFailureAsync(email, now, settings.LockoutThreshold, settings.FailureWindow, settings.LockoutDuration, cancellationToken);
            if (until is not null)
            {
                Log.LockedOut(logger, account?.Id);
                return new Result(Outcome.LockedOut, LockedUntil: until);
            }

            return new Result(Outcome.Invalid);
        }

        await failures.ResetAsync(email, cancellationToken);
        return account.Disabled ? new Result(Outcome.Disabled) : new Result(Outcome.Success, account);
    }

    public void Dispose() => _perIp.Dispose();

    private static partial class Log
    {
        [LoggerMessage(401, LogLevel.Warning, "Sign-in attempts from one address are being rate limited")]
        public static partial void RateLimited(ILogger logger);

        [LoggerMessage(402, LogLevel.Warning, "An e-mail address is locked out after repeated failed sign-ins (account {AccountId})")]
        public static partial void LockedOut(ILogger logger, string? accountId);
    }
}

/// <summary>Sign-in limits (<c>Tollgate:SignIn</c>).</summary>
internal sealed class SignInOptions
{
    public const string Section = "Tollgate:SignIn";

    /// <summary>Sign-in attempts one client IP address may make per minute, whatever the account.</summary>
    public int AttemptsPerIpPerMinute { get; set; } = 30;

    /// <summary>Failed sign-ins in a row (within <see cref="FailureWindow"/>) that lock an e-mail address.</summary>
    public int LockoutThreshold { get; set; } = 10;

    public TimeSpan FailureWindow { get; set; } = TimeSpan.FromMinutes(15);

    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(15);

    public IEnumerable<string> Validate()
    {
        if (AttemptsPerIpPerMinute is < 1 or > 10_000)
        {
            yield return $"{Section}:AttemptsPerIpPerMinute must be between 1 and 10000";
        }

        if (LockoutThreshold is < 1 or > 1000)
        {
            yield return $"{Section}:LockoutThreshold must be between 1 and 1000";
        }

        if (FailureWindow <= TimeSpan.Zero || FailureWindow > TimeSpan.FromDays(1))
        {
            yield return $"{Section}:FailureWindow must be between 00:00:01 and 1.00:00:00";
        }

        if (LockoutDuration <= TimeSpan.Zero || LockoutDuration > TimeSpan.FromDays(1))
        {
            yield return $"{Section}:LockoutDuration must be between 00:00:01 and 1.00:00:00";
        }
    }
}
