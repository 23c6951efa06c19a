"""Deployment tooling: Lambda packages for arm64 and the offline check of the CloudFormation templates."""
