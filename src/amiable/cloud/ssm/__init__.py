"""Systems Manager: Run Command (commands sent to instances) and Parameter Store."""
