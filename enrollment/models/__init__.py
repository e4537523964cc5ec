"""Devices, their enrollment credentials and certificates, and each domain's EST binding."""

from enrollment.models.devices import Device, DeviceCertificate, EnrollmentCredential
from enrollment.models.est import EstConfig

__all__ = ["Device", "DeviceCertificate", "EnrollmentCredential", "EstConfig"]
