"""AWS's published on-demand prices, us-east-1, as known when this was written (no price list is
fetched: check https://aws.amazon.com/pricing before relying on a figure). Free tiers left out."""

from __future__ import annotations

from dataclasses import dataclass

AS_OF = "the AWS pricing pages as published in January 2025 (DynamoDB's on-demand prices as cut on 1 November 2024)"


@dataclass(frozen=True)
class Price:
    what: str
    dollars: float
    per: float  # units the price is for
    unit: str

    def of(self, units: float) -> float:
        return self.dollars * units / self.per

    def __str__(self) -> str:
        return f"{self.what}: ${self.dollars:g} per {self.per:,.0f} {self.unit}"


DYNAMODB_WRITE = Price("DynamoDB on-demand write request units", 0.625, 1e6, "WRU")
DYNAMODB_READ = Price("DynamoDB on-demand read request units", 0.125, 1e6, "RRU")
# GetRecords by a Lambda trigger is free; other readers pay $0.02 per 100,000 stream read request units.
STREAMS_READ = Price("DynamoDB Streams reads by a Lambda trigger", 0.0, 1e5, "GetRecords")
SQS_STANDARD = Price("SQS standard queue requests (each 64 KB chunk)", 0.40, 1e6, "requests")
LAMBDA_REQUESTS = Price("Lambda requests", 0.20, 1e6, "requests")
LAMBDA_ARM64 = Price("Lambda duration, arm64 (first 7.5 billion GB-s a month)", 0.0000133334, 1, "GB-second")
API_GATEWAY_REST = Price("API Gateway REST API requests (first 333 million a month)", 3.50, 1e6, "requests")
# Standard parameters at standard throughput: API interactions are free (higher throughput or
# advanced parameters: $0.05 per 10,000). A SecureString's decryption is a KMS request.
SSM_STANDARD = Price("SSM Parameter Store API, standard parameters and throughput", 0.0, 1e4, "API interactions")
KMS_REQUESTS = Price("KMS requests (a SecureString's decryption)", 0.03, 1e4, "requests")

ALL = (
    DYNAMODB_WRITE,
    DYNAMODB_READ,
    STREAMS_READ,
    SQS_STANDARD,
    LAMBDA_REQUESTS,
    LAMBDA_ARM64,
    API_GATEWAY_REST,
    SSM_STANDARD,
    KMS_REQUESTS,
)
