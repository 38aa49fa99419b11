@destructive @whole_gallery
Feature: Only a signed-in user reaches the gallery
  Every request needs a valid bearer token. A request without one, or with a token the API did
  not issue, is refused and changes nothing.

  Background:
    Given Alice has uploaded a PNG file "private.png"

  @critical
  Scenario Outline: <action> without a token is refused
    When someone without a token tries <action>

    Then the request is refused as unauthenticated
    And Alice's gallery is unchanged

    Examples: The six endpoints
      | action                          |
      | listing Alice's gallery         |
      | uploading an image              |
      | uploading several images        |
      | reordering Alice's gallery      |
      | updating Alice's image          |
      | deleting Alice's image          |

  @critical
  Scenario Outline: <action> with a wrong token is refused
    When someone with a wrong token tries <action>

    Then the request is refused as unauthenticated
    And Alice's gallery is unchanged

    Examples: The six endpoints
      | action                          |
      | listing Alice's gallery         |
      | uploading an image              |
      | uploading several images        |
      | reordering Alice's gallery      |
      | updating Alice's image          |
      | deleting Alice's image          |
