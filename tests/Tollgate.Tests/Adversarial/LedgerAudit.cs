using Microsoft.Data.Sqlite;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// The books after an attack, read from the database as an auditor would: the balance is the sum
/// of the ledger and never below zero, every charge has its usage record (and its cost), and
/// nothing is still reserved. Every adversarial test ends with it.
/// </summary>
internal static class LedgerAudit
{
    /// <summary>Asserts the books of <paramref name="accountId"/> balance; returns the balance in nano-dollars.</summary>
    public static async Task<long> AssertBooksBalanceAsync(TollgateFactory tollgate, string accountId)
    {
        await tollgate.Service<BillingWriter>().FlushAsync(CancellationToken.None);
        using var connection = new SqliteConnection($"Data Source={tollgate.DatabasePath};Mode=ReadOnly;Pooling=False");
        connection.Open();

        var balance = Scalar(connection, "SELECT COALESCE((SELECT balance_nanos FROM balances WHERE account_id = $a), 0)", accountId);
        var ledgerSum = Scalar(connection, "SELECT COALESCE(SUM(amount_nanos), 0) FROM ledger WHERE account_id = $a", accountId);
        Assert.Equal(ledgerSum, balance);
        Assert.True(balance >= 0, $"balance went negative: {balance} nano-dollars");

        var charges = Scalar(connection, "SELECT COUNT(*) FROM ledger WHERE account_id = $a AND kind = 'charge'", accountId);
        var charged = Scalar(connection, "SELECT COUNT(*) FROM usage_records WHERE account_id = $a AND cost_nanos > 0", accountId);
        Assert.Equal(charges, charged);

        var chargedSum = -Scalar(connection, "SELECT COALESCE(SUM(amount_nanos), 0) FROM ledger WHERE account_id = $a AND kind = 'charge'", accountId);
        var recordedSum = Scalar(connection, "SELECT COALESCE(SUM(cost_nanos), 0) FROM usage_records WHERE account_id = $a", accountId);
        Assert.Equal(recordedSum, chargedSum);

        // Every reservation is settled or released once the calls have ended.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (tollgate.Service<CreditLedger>().ReservedFor(accountId) != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, tollgate.Service<CreditLedger>().ReservedFor(accountId));
        return balance;
    }

    /// <summary>How many usage records of the account carry a charge, and their total cost.</summary>
    public static (long Records, long CostNanos) Charges(TollgateFactory tollgate, string accountId)
    {
        tollgate.Service<BillingWriter>().FlushAsync(CancellationToken.None).GetAwaiter().GetResult();
        using var connection = new SqliteConnection($"Data Source={tollgate.DatabasePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        return (Scalar(connection, "SELECT COUNT(*) FROM usage_records WHERE account_id = $a AND cost_nanos > 0", accountId),
            Scalar(connection, "SELECT COALESCE(SUM(cost_nanos), 0) FROM usage_records WHERE account_id = $a", accountId));
    }

    private static long Scalar(SqliteConnection connection, string sql, string accountId)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$a", accountId);
        return Convert.ToInt64(command.ExecuteScalar() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
    }
}
