"""Devices, their enrollment credentials and certificates, each domain's EST binding and its
onboarding configuration."""

from enrollment.models.devices import Device, DeviceCertificate, EnrollmentCredential
from enrollment.models.est import EstConfig
from enrollment.models.onboarding import OnboardingConfig

__all__ = ["Device", "DeviceCertificate", "EnrollmentCredential", "EstConfig", "OnboardingConfig"]
