@destructive
Feature: Deleting an image
  Alice removes an image from her gallery for good.

  Background:
    Given Alice has uploaded a PNG file "doomed.png"

  @smoke @critical
  Scenario: Deleting an image answers with a StretchResponse
    When Alice deletes the image

    Then the answer is a StretchResponse with the status "success"

  @critical
  Scenario: A deleted image is no longer listed
    When Alice deletes the image

    Then Alice's gallery no longer lists the image

  @whole_gallery
  Scenario: Deleting one image keeps the rest of the gallery in order
    Given Alice has uploaded 2 PNG files

    When Alice deletes the image

    Then Alice's gallery lists the other images in their previous order

  Scenario: Deleting an image twice is refused
    Given Alice has deleted the image

    When Alice deletes the image

    Then the request is refused as not found

  Scenario: Deleting an image that does not exist is refused
    When Alice deletes an image that does not exist

    Then the request is refused as not found

  Scenario: Deleting with a malformed image ID gives a validation error
    When Alice deletes the image "not-a-uuid"

    Then the request is refused with a validation error
